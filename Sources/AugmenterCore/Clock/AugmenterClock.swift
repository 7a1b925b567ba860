// The clock is injected everywhere time matters (refresh scheduling, freshness on the hot path)
// so tests can drive time by hand instead of sleeping.

public import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// The time source of the refreshers and of the decision path.
public protocol AugmenterClock: Sendable {
  /// The current monotonic time; cheap, because it is read on every check.
  func now() -> MonotonicInstant
  /// The current wall-clock time, only for timestamps shown to people (`/status`).
  func wallNow() -> Date
  /// Suspends until `deadline` has passed.
  ///
  /// - Throws: `CancellationError` when the calling task is cancelled while waiting.
  func sleep(until deadline: MonotonicInstant) async throws
}

/// The real clock: `CLOCK_MONOTONIC` for instants, `Task.sleep` for waiting.
public struct SystemClock: AugmenterClock {
  /// Creates the system clock (it has no state).
  public init() {}

  /// Reads `CLOCK_MONOTONIC`: a vDSO call on Linux, no syscall and no allocation.
  public func now() -> MonotonicInstant {
    var spec = timespec()
    // clock_gettime cannot fail for CLOCK_MONOTONIC with a valid pointer.
    _ = clock_gettime(CLOCK_MONOTONIC, &spec)
    return MonotonicInstant(nanoseconds: UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec))
  }

  /// `Date()`.
  public func wallNow() -> Date {
    Date()
  }

  /// Sleeps for the time left until `deadline`, measured on this clock.
  ///
  /// `Task.sleep` runs on a different clock, so it is given a duration rather than an instant;
  /// the two clocks advance at the same rate, so the deadline is met within scheduling slack.
  public func sleep(until deadline: MonotonicInstant) async throws {
    let remaining = deadline - now()
    if remaining > .zero {
      try await Task.sleep(for: remaining)
    } else {
      // Still a suspension point that observes cancellation, like a zero-length sleep would.
      try Task.checkCancellation()
    }
  }
}
