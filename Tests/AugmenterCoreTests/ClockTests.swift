// Monotonic instants and the system clock.

import AugmenterCore
import TestSupport
import Testing

@Suite("Clock")
struct ClockTests {
  @Test("instant arithmetic is exact and saturates at the ends")
  func arithmetic() {
    let t = MonotonicInstant(nanoseconds: 5_000_000_000)
    #expect(t + .milliseconds(1500) == MonotonicInstant(nanoseconds: 6_500_000_000))
    #expect(t - .seconds(1) == MonotonicInstant(nanoseconds: 4_000_000_000))
    #expect(t + .seconds(-10) == .zero)
    #expect(MonotonicInstant(nanoseconds: .max - 1) + .seconds(1) == MonotonicInstant(nanoseconds: .max))
    #expect(t - MonotonicInstant(nanoseconds: 2_000_000_000) == .seconds(3))
    #expect(MonotonicInstant(nanoseconds: 2_000_000_000) - t == .seconds(-3))
    #expect(t < t + .nanoseconds(1))
  }

  @Test("the system clock does not go backwards")
  func systemNow() {
    let clock = SystemClock()
    var previous = clock.now()
    for _ in 0..<1000 {
      let next = clock.now()
      #expect(next >= previous)
      previous = next
    }
  }

  @Test("a deadline in the past returns at once; a cancelled sleep throws CancellationError")
  func systemSleep() async throws {
    let clock = SystemClock()
    try await clock.sleep(until: clock.now() - .seconds(1))
    let sleeper = Task { try await clock.sleep(until: clock.now() + .seconds(3600)) }
    sleeper.cancel()
    await #expect(throws: CancellationError.self) { try await sleeper.value }
  }

  @Test("the manual test clock wakes sleepers only when time passes their deadline")
  func manualClock() async throws {
    let clock = ManualClock()
    let start = clock.now()
    let sleeper = Task { try await clock.sleep(until: start + .seconds(5)) }
    _ = await clock.waitForSleeper { $0 == start + .seconds(5) }
    clock.advance(by: .seconds(4))
    #expect(clock.sleeperDeadlines == [start + .seconds(5)])
    clock.advance(by: .seconds(1))
    try await sleeper.value
    #expect(clock.sleeperDeadlines.isEmpty)
  }
}
