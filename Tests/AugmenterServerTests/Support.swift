//===----------------------------------------------------------------------===//
// Test support: a clock the test sets, a registry with one provider.
//===----------------------------------------------------------------------===//

import AugmenterCore
import Foundation
import Synchronization

/// A clock whose time only moves when the test says so.
final class SetClock: AugmenterClock {
  private let current = Mutex<MonotonicInstant>(MonotonicInstant(nanoseconds: 1_000_000_000))

  func now() -> MonotonicInstant { self.current.withLock { $0 } }
  func wallNow() -> Date { Date(timeIntervalSince1970: 1_800_000_000) }
  func sleep(until deadline: MonotonicInstant) async throws {
    try await Task.sleep(for: .seconds(3600))
  }
  func advance(by duration: Duration) {
    self.current.withLock { $0 = $0 + duration }
  }
}

/// A config with one required provider `sidecar` (ttl 10s, max_stale 5s) and a static header.
func makeConfig(onUnavailable: UnavailablePolicy = .deny) throws -> AugmenterConfig {
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
