// Token buckets on an injected clock: rate, burst, refill, independent keys, bounded memory.

import AugmenterCore
import Testing

@Suite("Rate limiter (token bucket per key)")
struct RateLimiterTests {
  let t0 = MonotonicInstant(nanoseconds: 5_000_000_000_000)

  func allowed(_ result: RateLimiter.Result) -> Bool {
    if case .allowed = result { return true }
    return false
  }

  @Test("10 per second, burst 10: ten at once pass, the eleventh is limited")
  func burstThenLimit() {
    let limiter = RateLimiter(requestsPerSecond: 10, burst: 10, maxKeys: 100)
    for index in 0..<10 {
      #expect(limiter.take("k", at: t0) == .allowed(remaining: 9 - index))
    }
    guard case .limited(let retryAfter, let reset) = limiter.take("k", at: t0) else {
      Issue.record("the 11th request must be limited")
      return
    }
    #expect(retryAfter == .milliseconds(100), "one token comes back after 1/rate")
    #expect(reset == .seconds(1), "the bucket is full again after burst/rate")
  }

  @Test("refill: tokens come back at the rate, never beyond the burst")
  func refill() {
    let limiter = RateLimiter(requestsPerSecond: 10, burst: 10, maxKeys: 100)
    for _ in 0..<10 { _ = limiter.take("k", at: t0) }
    #expect(!allowed(limiter.take("k", at: t0 + .milliseconds(99))))
    #expect(limiter.take("k", at: t0 + .milliseconds(100)) == .allowed(remaining: 0))
    #expect(!allowed(limiter.take("k", at: t0 + .milliseconds(150))))
    // 350 ms later: 3.5 tokens back, 3 usable.
    for _ in 0..<3 { #expect(allowed(limiter.take("k", at: t0 + .milliseconds(450)))) }
    #expect(!allowed(limiter.take("k", at: t0 + .milliseconds(450))))
    // After a long idle time the bucket holds `burst` tokens, not more.
    let later = t0 + .seconds(3600)
    for index in 0..<10 { #expect(limiter.take("k", at: later) == .allowed(remaining: 9 - index)) }
    #expect(!allowed(limiter.take("k", at: later)))
  }

  @Test("a steady rate at exactly the limit is never refused")
  func steadyRate() {
    let limiter = RateLimiter(requestsPerSecond: 5, burst: 1, maxKeys: 16)
    for step in 0..<100 {
      #expect(allowed(limiter.take("k", at: t0 + .milliseconds(200 * step))), "step \(step)")
    }
    #expect(!allowed(limiter.take("k", at: t0 + .milliseconds(200 * 99 + 1))))
  }

  @Test("fractional rates: 0.5 per second is one request every two seconds")
  func fractionalRate() {
    let limiter = RateLimiter(requestsPerSecond: 0.5, burst: 1, maxKeys: 16)
    #expect(allowed(limiter.take("k", at: t0)))
    guard case .limited(let retryAfter, _) = limiter.take("k", at: t0 + .seconds(1)) else {
      Issue.record("expected a limit")
      return
    }
    #expect(retryAfter == .seconds(1))
    #expect(allowed(limiter.take("k", at: t0 + .seconds(2))))
  }

  @Test("keys have independent buckets")
  func independentKeys() {
    let limiter = RateLimiter(requestsPerSecond: 1, burst: 2, maxKeys: 100)
    #expect(allowed(limiter.take("a", at: t0)))
    #expect(allowed(limiter.take("a", at: t0)))
    #expect(!allowed(limiter.take("a", at: t0)))
    #expect(allowed(limiter.take("b", at: t0)))
    #expect(allowed(limiter.take("b", at: t0)))
    #expect(!allowed(limiter.take("b", at: t0)))
  }

  @Test("bounded memory: a flood of distinct keys never grows the table beyond max_keys (rounded up)")
  func evictionBound() {
    let limiter = RateLimiter(requestsPerSecond: 1, burst: 1, maxKeys: 100)
    #expect(limiter.capacity == 128)
    for index in 0..<50_000 {
      _ = limiter.take("client-\(index)", at: t0)
    }
    #expect(limiter.occupiedSlots <= limiter.capacity)
    #expect(limiter.activeKeys(at: t0) <= limiter.capacity)
    // The bounds above hold by construction (the table never grows); what the flood shows is
    // that the table fills up to exactly its capacity and every slot is in use at t0.
    #expect(limiter.occupiedSlots == limiter.capacity)
    #expect(limiter.activeKeys(at: t0) == limiter.capacity)
    // Every new key still gets its full bucket (an evicted key starts over; none is refused
    // because the table is full).
    #expect(limiter.take("newcomer", at: t0) == .allowed(remaining: 0))
  }

  @Test("eviction forgets idle keys first: a busy key keeps its limit when new keys arrive")
  func idleKeysGoFirst() {
    // 8 slots and a probe window of 8: every key competes for the same slots.
    let limiter = RateLimiter(requestsPerSecond: 1, burst: 1, maxKeys: 8)
    #expect(limiter.capacity == RateLimiter.probeWindow)
    for index in 0..<7 {
      _ = limiter.take("idle-\(index)", at: t0)  // full again one second later
    }
    let now = t0 + .seconds(10)
    #expect(allowed(limiter.take("busy", at: now)))
    #expect(!allowed(limiter.take("busy", at: now)))
    // The table is full: each newcomer takes an idle key's slot, never the busy one's.
    for index in 0..<7 {
      #expect(allowed(limiter.take("new-\(index)", at: now)))
    }
    #expect(!allowed(limiter.take("busy", at: now)), "the busy key must not lose its history to idle keys")
    #expect(limiter.activeKeys(at: now) == 8)
  }

  @Test("when every slot is busy, the fullest bucket is forgotten (it starts over)")
  func busyEviction() {
    let limiter = RateLimiter(requestsPerSecond: 1, burst: 1, maxKeys: 8)
    for index in 0..<8 { _ = limiter.take("k\(index)", at: t0 + .milliseconds(index)) }
    // k0 is the fullest (its token returns first): the newcomer replaces it.
    #expect(allowed(limiter.take("newcomer", at: t0 + .milliseconds(10))))
    #expect(allowed(limiter.take("k0", at: t0 + .milliseconds(11))), "k0 was forgotten: a full bucket again")
    #expect(limiter.occupiedSlots == 8)
  }

  @Test("concurrent takes from many threads: exactly burst tokens are handed out at one instant")
  func concurrency() async {
    let limiter = RateLimiter(requestsPerSecond: 1, burst: 1000, maxKeys: 64)
    let now = t0
    let granted = await withTaskGroup(of: Int.self) { group in
      for _ in 0..<8 {
        group.addTask {
          var count = 0
          for _ in 0..<500 {
            if case .allowed = limiter.take("shared", at: now) { count += 1 }
          }
          return count
        }
      }
      return await group.reduce(0, +)
    }
    #expect(granted == 1000)
  }
}
