//===----------------------------------------------------------------------===//
// End-to-end harness: child processes that the test scope stops.
//===----------------------------------------------------------------------===//

import Foundation
import TestSupport

extension ChildProcess {
  /// Starts `executable` with `arguments` (this environment plus `environment`), its output in
  /// the scope's `<name>.log`, and registers it with `scope`: the log is shown when the test
  /// fails, and teardown sends SIGTERM, waits `killTimeout`, then SIGKILLs, so no test leaves a
  /// process behind, pass or fail.
  static func spawn(
    name: String,
    executable: String,
    arguments: [String],
    environment: [String: String] = [:],
    scope: TestScope,
    killTimeout: Duration = .seconds(5)
  ) throws -> ChildProcess {
    let logURL = scope.file("\(name).log")
    let process = try ChildProcess.spawn(
      name: name, executable: executable, arguments: arguments,
      environment: environment.mapValues { Optional($0) }, logURL: logURL)
    scope.registerLog(name, at: logURL)
    scope.onTeardown("stop \(name)") {
      _ = await process.terminate(timeout: killTimeout)
    }
    return process
  }
}
