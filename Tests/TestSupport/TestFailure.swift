//===----------------------------------------------------------------------===//
// Test support: a failure with a message meant for the person reading the test log.
//===----------------------------------------------------------------------===//

/// A failure the tests and their harnesses throw (a tool that is missing, a wait that timed out),
/// with a message meant for the person reading the test log.
package struct TestFailure: Error, CustomStringConvertible {
  /// The message.
  package var description: String
  /// A failure saying `description`.
  package init(_ description: String) { self.description = description }
}
