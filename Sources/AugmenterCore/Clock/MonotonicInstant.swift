// Monotonic time as a plain integer, so snapshots can be compared on the hot path without
// touching a clock object, and tests can place instants exactly.

/// A point on a monotonic clock, in nanoseconds from an arbitrary origin.
///
/// Arithmetic saturates instead of trapping: a huge `ttl` added to `now` simply means "never".
public struct MonotonicInstant: Sendable, Hashable, Comparable {
  /// Nanoseconds since the clock's origin.
  public var nanoseconds: UInt64

  /// Creates an instant `nanoseconds` after the clock's origin.
  public init(nanoseconds: UInt64) {
    self.nanoseconds = nanoseconds
  }

  /// The clock's origin.
  public static let zero = MonotonicInstant(nanoseconds: 0)

  /// Orders instants by time.
  public static func < (lhs: Self, rhs: Self) -> Bool {
    lhs.nanoseconds < rhs.nanoseconds
  }

  /// The instant `duration` later (earlier for a negative duration), saturating at the ends.
  public static func + (lhs: Self, rhs: Duration) -> Self {
    let delta = rhs.clampedNanoseconds
    if delta >= 0 {
      let (sum, overflow) = lhs.nanoseconds.addingReportingOverflow(UInt64(delta))
      return Self(nanoseconds: overflow ? .max : sum)
    }
    let magnitude = delta.magnitude
    return Self(nanoseconds: lhs.nanoseconds > magnitude ? lhs.nanoseconds - magnitude : 0)
  }

  /// The instant `duration` earlier, saturating at the ends.
  public static func - (lhs: Self, rhs: Duration) -> Self {
    lhs + (.zero - rhs)
  }

  /// The signed time from `rhs` to `lhs`.
  public static func - (lhs: Self, rhs: Self) -> Duration {
    if lhs.nanoseconds >= rhs.nanoseconds {
      return .nanoseconds(Int64(clamping: lhs.nanoseconds - rhs.nanoseconds))
    }
    return .zero - .nanoseconds(Int64(clamping: rhs.nanoseconds - lhs.nanoseconds))
  }
}

extension MonotonicInstant: CustomStringConvertible {
  /// Seconds since the origin, for test failure messages and debugging.
  public var description: String {
    "MonotonicInstant(\(nanoseconds / 1_000_000_000).\(String(nanoseconds % 1_000_000_000).leftPadded(to: 9))s)"
  }
}

extension String {
  fileprivate func leftPadded(to width: Int) -> String {
    count >= width ? self : String(repeating: "0", count: width - count) + self
  }
}

extension Duration {
  /// The duration in whole nanoseconds, clamped to `Int64` (about 292 years either way).
  var clampedNanoseconds: Int64 {
    let (seconds, attoseconds) = components
    let (fromSeconds, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
    if overflow { return seconds < 0 ? .min : .max }
    let (sum, overflow2) = fromSeconds.addingReportingOverflow(attoseconds / 1_000_000_000)
    if overflow2 { return seconds < 0 ? .min : .max }
    return sum
  }

  /// The duration in seconds as a `Double`, for JSON and logs.
  var inSeconds: Double {
    let (seconds, attoseconds) = components
    return Double(seconds) + Double(attoseconds) / 1e18
  }

  /// Multiplies by a factor, rounding to whole nanoseconds and clamping.
  func scaled(by factor: Double) -> Duration {
    let value = Double(clampedNanoseconds) * factor
    if value >= Double(Int64.max) { return .nanoseconds(Int64.max) }
    if value <= Double(Int64.min) { return .nanoseconds(Int64.min) }
    return .nanoseconds(Int64(value.rounded()))
  }
}
