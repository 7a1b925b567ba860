//===----------------------------------------------------------------------===//
// Augmenter — how many streams a client may reset before they were answered (rapid reset).
//===----------------------------------------------------------------------===//

/// A token bucket over the streams a client resets before we answered them: `burst` at once,
/// then `perSecond`; past it the connection is ended (CVE-2023-44487, rapid reset).
///
/// Only unanswered streams count. That is where rapid reset hurts: the client frees its
/// concurrency slot while the server still works on the request. A stream reset after its
/// answer cost no more than any request. Envoy's ext_proc filter ends every Process stream with
/// END_STREAM followed by RST_STREAM(CANCEL) once it has its answers, so nghttp2's own limit,
/// which counts every reset, closed Envoy's one connection per worker after about a thousand
/// requests at any rate above 33 per second (seen through Envoy 1.40 with h2load).
struct StreamResetBudget: Sendable {
  /// Resets allowed at once.
  static let burst = 1000
  /// Resets allowed per second after the burst.
  static let perSecond = 33

  private var tokens: Int
  private var lastRefill: UInt64

  /// A full bucket at `nanoseconds` (a monotonic time).
  init(now nanoseconds: UInt64) {
    self.tokens = Self.burst
    self.lastRefill = nanoseconds
  }

  /// Takes one reset at `nanoseconds`; false when the bucket is empty (end the connection).
  mutating func take(now nanoseconds: UInt64) -> Bool {
    if nanoseconds > self.lastRefill {
      let seconds = (nanoseconds - self.lastRefill) / 1_000_000_000
      if seconds > 0 {
        let refill = seconds > UInt64(Self.burst) ? Self.burst : Int(seconds) * Self.perSecond
        self.tokens = min(Self.burst, self.tokens + refill)
        self.lastRefill += seconds * 1_000_000_000
      }
    }
    guard self.tokens > 0 else { return false }
    self.tokens -= 1
    return true
  }
}
