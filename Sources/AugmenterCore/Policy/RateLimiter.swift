// Token buckets per key, lock-free, in a fixed-size table (the Sentinel seed's flow rules).
//
// Each bucket is kept as GCRA's "theoretical arrival time" (TAT): the instant at which the
// bucket would be full again. That is the whole state of a token bucket of capacity `burst`
// refilled at `rate` tokens per second:
//
//   tokens(now) = burst - (TAT - now) / interval      (interval = 1 / rate)
//
// A request is allowed when, after taking a token, TAT - now stays within burst * interval.
// One 64-bit key fingerprint and one 64-bit TAT make a slot, updated together with one 128-bit
// compare-and-swap (`Atomic<WordPair>`, cmpxchg16b on x86-64, casp on arm64). No lock, no
// allocation after start, and a check that loses a race simply retries.
//
// Why not a dictionary behind a lock: the hot-path rule allows a lock only around a word-sized
// swap, and hashing plus a dictionary insert is not that. Why not per-core buckets: a limit of 10
// per second split over cores is either too strict or too loose.
//
// Memory is bounded: the table has a fixed power-of-two number of slots (`max_keys` rounded up).
// A key lives in one of `probeWindow` slots after its hash. When all are taken, the slot whose
// bucket is fullest (smallest TAT) is reused. A bucket whose TAT has passed is full, which is
// exactly the state of a key never seen, so forgetting an idle key changes nothing; only when
// every slot of the window is busy does a key lose its history (it starts again with a full
// bucket). Two keys whose 64-bit fingerprints collide (odds about 2^-64 per pair) share a bucket.
//
// The limit is per replica: every Augmenter process counts on its own.

import Synchronization

/// A token bucket per key, shared by every check of one `rate_limit` rule.
public final class RateLimiter: @unchecked Sendable {
  /// The outcome of taking one token.
  public enum Result: Sendable, Hashable {
    /// Allowed; `remaining` tokens are left.
    case allowed(remaining: Int)
    /// Over the limit: a token is available again after `retryAfter`; the bucket is full again
    /// after `reset`.
    case limited(retryAfter: Duration, reset: Duration)
  }

  /// Tokens added per second.
  public let requestsPerSecond: Double
  /// The bucket capacity.
  public let burst: Int
  /// The number of slots (keys tracked at most): `max_keys` rounded up to a power of two.
  public let capacity: Int
  /// How many slots after its hash a key may occupy.
  public static let probeWindow = 8

  private let interval: UInt64
  private let tolerance: UInt64
  private let mask: Int
  private let slots: UnsafeMutablePointer<Atomic<WordPair>>
  /// Fingerprints are hashed with a per-limiter seed so keys chosen by clients cannot be
  /// aimed at one window across restarts.
  private let seed: Int
  private let evictionCount = Atomic<Int>(0)

  /// Creates a limiter of `requestsPerSecond` with bucket capacity `burst`, tracking at most
  /// `maxKeys` keys (rounded up to a power of two, at least `probeWindow`).
  public init(requestsPerSecond: Double, burst: Int, maxKeys: Int) {
    precondition(requestsPerSecond > 0 && burst >= 1 && maxKeys >= 1)
    self.requestsPerSecond = requestsPerSecond
    self.burst = burst
    let interval = max(1, UInt64((1e9 / requestsPerSecond).rounded()))
    self.interval = interval
    self.tolerance = interval * UInt64(burst)
    var capacity = Self.probeWindow
    while capacity < maxKeys { capacity <<= 1 }
    self.capacity = capacity
    self.mask = capacity - 1
    self.seed = Int.random(in: .min ... .max)
    self.slots = .allocate(capacity: capacity)
    for index in 0..<capacity {
      (slots + index).initialize(to: Atomic(WordPair(first: 0, second: 0)))
    }
  }

  deinit {
    slots.deinitialize(count: capacity)
    slots.deallocate()
  }

  /// Takes one token from `key`'s bucket at `now`.
  public func take(_ key: String, at now: MonotonicInstant) -> Result {
    let fingerprint = fingerprint(of: key)
    let start = Int(truncatingIfNeeded: fingerprint) & mask
    let now = now.nanoseconds
    while true {
      var victim = -1
      var victimValue = WordPair(first: 0, second: 0)
      var victimTAT = UInt64.max
      var found = -1
      var foundValue = WordPair(first: 0, second: 0)
      for offset in 0..<Self.probeWindow {
        let index = (start + offset) & mask
        let value = slots[index].load(ordering: .relaxed)
        if UInt64(value.first) == fingerprint {
          found = index
          foundValue = value
          break
        }
        if value.first == 0 {
          // Slots are never emptied again, so the key is not further along.
          victim = index
          victimValue = value
          break
        }
        if UInt64(value.second) < victimTAT {
          victim = index
          victimValue = value
          victimTAT = UInt64(value.second)
        }
      }
      if found >= 0 {
        if let result = update(slot: found, current: foundValue, fingerprint: fingerprint, now: now) {
          return result
        }
        continue  // the slot was given to another key meanwhile: look again
      }
      // A new key, or a forgotten one: a full bucket, less this request's token.
      let fresh = WordPair(first: UInt(fingerprint), second: UInt(now + interval))
      let (exchanged, _) = slots[victim].compareExchange(
        expected: victimValue, desired: fresh, ordering: .acquiringAndReleasing)
      if exchanged {
        // Only when the window is full: one more atomic on that rare path, for metrics.
        if victimValue.first != 0 { evictionCount.wrappingAdd(1, ordering: .relaxed) }
        return .allowed(remaining: burst - 1)
      }
    }
  }

  /// Takes a token from a slot holding `fingerprint`; `nil` when the slot changed owner.
  private func update(slot index: Int, current: WordPair, fingerprint: UInt64, now: UInt64) -> Result? {
    var current = current
    while true {
      let tat = max(UInt64(current.second), now)
      let next = tat + interval
      if next - now > tolerance {
        return .limited(
          retryAfter: .nanoseconds(Int64(clamping: next - tolerance - now)),
          reset: .nanoseconds(Int64(clamping: tat - now)))
      }
      let desired = WordPair(first: UInt(fingerprint), second: UInt(next))
      let (exchanged, actual) = slots[index].compareExchange(
        expected: current, desired: desired, ordering: .acquiringAndReleasing)
      if exchanged {
        return .allowed(remaining: Int((tolerance - (next - now)) / interval))
      }
      if UInt64(actual.first) != fingerprint { return nil }
      current = actual
    }
  }

  /// The number of keys whose bucket is not full at `now` (what eviction must keep), for tests
  /// and metrics.
  public func activeKeys(at now: MonotonicInstant) -> Int {
    var count = 0
    for index in 0..<capacity {
      let value = slots[index].load(ordering: .relaxed)
      if value.first != 0 && UInt64(value.second) > now.nanoseconds { count += 1 }
    }
    return count
  }

  /// How many times a key's slot was given to another key because its window was full (the
  /// evicted key starts again with a full bucket if it comes back), since the limiter was made.
  public var evictions: Int {
    evictionCount.load(ordering: .relaxed)
  }

  /// The number of slots that ever held a key (never more than `capacity`).
  public var occupiedSlots: Int {
    var count = 0
    for index in 0..<capacity where slots[index].load(ordering: .relaxed).first != 0 {
      count += 1
    }
    return count
  }

  private func fingerprint(of key: String) -> UInt64 {
    var hasher = Hasher()
    hasher.combine(seed)
    hasher.combine(key)
    let value = UInt64(UInt(bitPattern: hasher.finalize()))
    return value == 0 ? 1 : value
  }
}
