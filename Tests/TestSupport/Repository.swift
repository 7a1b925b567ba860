//===----------------------------------------------------------------------===//
// Test support: the repository the tests run in, and its files.
//===----------------------------------------------------------------------===//

package import Foundation

/// The repository root and files in it, for tests that read or run what the repository ships.
package enum Repository {
  /// The repository root, derived from this file's path (`Tests/TestSupport/<file>`). Symlinks are
  /// resolved, so a scratch package that links the test folders still finds the real root.
  package static let root: URL = URL(fileURLWithPath: #filePath)
    .resolvingSymlinksInPath()
    .deletingLastPathComponent()  // TestSupport
    .deletingLastPathComponent()  // Tests
    .deletingLastPathComponent()

  /// The URL of `relativePath` under the root.
  package static func url(_ relativePath: String) -> URL {
    root.appendingPathComponent(relativePath)
  }

  /// The UTF-8 text of the file at `relativePath` under the root.
  package static func text(_ relativePath: String) throws -> String {
    try String(contentsOf: url(relativePath), encoding: .utf8)
  }
}
