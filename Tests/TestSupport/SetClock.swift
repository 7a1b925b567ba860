//===----------------------------------------------------------------------===//
// Test support: a clock the test sets, a registry with one provider.
//===----------------------------------------------------------------------===//

package import AugmenterCore
package import Foundation
package import Synchronization

/// A clock whose time only moves when the test says so.
package final class SetClock: AugmenterClock {
  /// A clock at one second past its origin.
  package init() {}
  private let current = Mutex<MonotonicInstant>(MonotonicInstant(nanoseconds: 1_000_000_000))

  package func now() -> MonotonicInstant { self.current.withLock { $0 } }
  package func wallNow() -> Date { Date(timeIntervalSince1970: 1_800_000_000) }
  package func sleep(until deadline: MonotonicInstant) async throws {
    try await Task.sleep(for: .seconds(3600))
  }
  package func advance(by duration: Duration) {
    self.current.withLock { $0 = $0 + duration }
  }
}

/// A config with one required provider `sidecar` (ttl 10s, max_stale 5s) and a static header.
package func makeConfig(onUnavailable: UnavailablePolicy = .deny) throws -> AugmenterConfig {
  try ConfigLoader.parse(
    """
    providers:
      - name: sidecar
        url: http://127.0.0.1:1/headers
        ttl: 10s
        max_stale: 5s
    headers:
      x-static: static-value
    on_unavailable: \(onUnavailable.rawValue)
    """,
    environment: [:]
  )
}
