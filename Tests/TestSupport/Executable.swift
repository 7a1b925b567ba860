//===----------------------------------------------------------------------===//
// Test support: finding the programs the tests run (an environment variable, else a default).
//===----------------------------------------------------------------------===//

import Foundation

/// Where the tests find a program: the path in an environment variable when it is set and not
/// empty, else a conventional place. A missing program is a test failure that says how to get it,
/// never a skip: a green run must mean the tests ran.
package enum Executable {
  /// The executable at `$variable` (when set and not empty), else at `fallback`; throws a
  /// ``TestFailure`` naming the path, where it came from, and `hint`.
  package static func locate(variable: String?, fallback: String, hint: String) throws -> String {
    let fromEnvironment = variable.flatMap { ProcessInfo.processInfo.environment[$0] }.flatMap { $0.isEmpty ? nil : $0 }
    let path = fromEnvironment ?? fallback
    guard FileManager.default.isExecutableFile(atPath: path) else {
      let source = variable.map { fromEnvironment == nil ? " (\($0) unset)" : " (from \($0))" } ?? ""
      throw TestFailure("no executable at \(path)\(source): \(hint)")
    }
    return path
  }
}
