// Retry spacing after failed refreshes.

/// Exponential back-off with jitter: `initial * multiplier^(n-1)`, capped at
/// `min(maximum, ttl / 2)`, then jittered.
///
/// The ttl/2 cap keeps at least two retries inside one ttl for short-lived headers, however many
/// failures came before.
public struct BackoffPolicy: Sendable, Hashable {
  /// How the computed delay is randomised, so many instances don't retry in lock-step.
  public enum Jitter: Sendable, Hashable {
    /// No randomness (tests, or a single instance).
    case none
    /// Uniform in [0, delay): the best spread, but a retry may follow at once.
    case full
    /// Uniform in [delay/2, delay): spread, while keeping at least half the back-off.
    case equal
  }

  /// The delay after the first failure.
  public var initial: Duration
  /// The growth per further failure.
  public var multiplier: Double
  /// The largest delay (before the ttl/2 cap).
  public var maximum: Duration
  /// The randomisation.
  public var jitter: Jitter

  /// Creates a policy.
  public init(initial: Duration, multiplier: Double, maximum: Duration, jitter: Jitter) {
    self.initial = initial
    self.multiplier = multiplier
    self.maximum = maximum
    self.jitter = jitter
  }

  /// 250ms, doubling, at most 30s (and ttl/2), equal jitter.
  public static let `default` = BackoffPolicy(initial: .milliseconds(250), multiplier: 2, maximum: .seconds(30), jitter: .equal)

  /// The delay before the next attempt after `failures` consecutive failures (1 for the first).
  ///
  /// - Parameter random: a number in [0, 1) used for the jitter.
  public func delay(afterFailures failures: Int, ttl: Duration, random: Double) -> Duration {
    let cap = min(maximum, ttl / 2)
    // Grow step by step and stop at the cap, so a long failure streak cannot overflow.
    var delay = initial
    var step = 1
    while step < failures && delay < cap {
      delay = delay.scaled(by: multiplier)
      step += 1
    }
    delay = min(delay, cap)
    let unit = min(max(random, 0), 1)
    switch jitter {
    case .none:
      return delay
    case .full:
      return delay.scaled(by: unit)
    case .equal:
      return delay / 2 + (delay / 2).scaled(by: unit)
    }
  }
}
