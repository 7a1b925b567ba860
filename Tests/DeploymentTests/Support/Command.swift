//===----------------------------------------------------------------------===//
// Deployment tests: the environment `augmenter` runs in (the runner itself is TestSupport's).
//===----------------------------------------------------------------------===//

import Foundation
import TestSupport

extension Command {
  /// The environment for running `augmenter` itself: without the caller's `AUGMENTER_*` overrides
  /// (a developer's shell must not change what the shipped files mean), plus `extra`.
  static func augmenterEnvironment(_ extra: [String: String] = [:]) -> [String: String?] {
    var changes: [String: String?] = [:]
    for key in ProcessInfo.processInfo.environment.keys where key.hasPrefix("AUGMENTER_") {
      changes[key] = .some(nil)
    }
    for (key, value) in extra { changes[key] = value }
    return changes
  }
}
