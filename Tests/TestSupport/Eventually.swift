//===----------------------------------------------------------------------===//
// Test support: polling until a condition holds, with a bound on the wait.
//===----------------------------------------------------------------------===//

/// Polls `probe` every `interval` until it returns a value, and returns that value; throws a
/// ``TestFailure`` once `timeout` passes first.
///
/// Timeouts here are bounds on waiting, never assertions on speed. An error thrown by `probe` is
/// retried (and named in the timeout's message) when `retryingErrors` is true; otherwise it ends
/// the wait at once, so a probe can fail fast (a peer that closed, a server that exited).
@discardableResult
package func eventually<T>(
  _ what: String,
  timeout: Duration = .seconds(10),
  every interval: Duration = .milliseconds(100),
  retryingErrors: Bool = true,
  _ probe: () async throws -> T?
) async throws -> T {
  let clock = ContinuousClock()
  let deadline = clock.now.advanced(by: timeout)
  var lastError: (any Error)?
  while true {
    do {
      if let value = try await probe() { return value }
      lastError = nil
    } catch {
      guard retryingErrors else { throw error }
      lastError = error
    }
    if clock.now >= deadline {
      let suffix = lastError.map { " (last error: \($0))" } ?? ""
      throw TestFailure("timed out after \(timeout) waiting for \(what)\(suffix)")
    }
    try await Task.sleep(for: interval)
  }
}
