// What a provider published: immutable, so the hot path can hold one without locking.

public import Foundation
import Synchronization

/// The published, validated headers of one provider, with their freshness deadlines.
///
/// Two kinds of limit meet here. Soft ones, `ttl` and an HTTP cache lifetime, say when to fetch
/// again; `max_stale` may stretch them while refreshes fail. Hard ones, a token's own expiry
/// (`expires_in`, a JWT's `exp`), say when the upstream will refuse the value: nothing is served
/// past the earliest of them minus `expiry_skew`, whatever `max_stale` says, because a clock a
/// little ahead of ours at the upstream must not see an expired token.
///
/// A class, so reading the current snapshot under `ProviderState`'s lock copies one reference
/// (a struct would retain its header array and digest string inside the lock on every check).
public final class HeaderSnapshot: Sendable {
  /// The headers, names lower-cased, in the provider's order.
  public let headers: [HeaderField]
  /// When the fetch that produced them was started (monotonic).
  ///
  /// The start, not the end: the provider produced the values no earlier than that, so the ttl
  /// is never stretched by a slow answer.
  public let fetchedAt: MonotonicInstant
  /// The same moment on the wall clock, for `/status`.
  public let fetchedAtWall: Date
  /// Until when the headers are fresh: the soonest of `fetchedAt + ttl`, the cache lifetime and
  /// `expiresAt - skew`.
  public let freshUntil: MonotonicInstant
  /// Until when they may be served: the soft limit plus `max_stale`, never past
  /// `expiresAt - skew`.
  public let usableUntil: MonotonicInstant
  /// The values' own expiry, the earliest of `expires_in` and every JWT `exp` among them (before
  /// the skew); `nil` when they carry none.
  public let expiresAt: MonotonicInstant?
  /// The same moment on the wall clock, for `/status`.
  public let expiresAtWall: Date?
  /// A short hash of the header set (FNV-1a 64 over the sorted name/value pairs, 16 hex
  /// digits): tells operators whether two instances serve the same set, never the values.
  public let digest: String
  /// Identifies this snapshot among all snapshots of the process (the decision cache's key).
  let generation: UInt64

  /// Creates a snapshot of `headers` fetched at `fetchedAt` for a provider with `ttl` and
  /// `maxStale`.
  ///
  /// - Parameters:
  ///   - expiresIn: the source's own statement of the values' lifetime (`expires_in`).
  ///   - cacheLifetime: the answer's HTTP cache lifetime.
  ///   - expirySkew: how long before a hard expiry the values stop being served.
  public init(
    headers: [HeaderField], fetchedAt: MonotonicInstant, fetchedAtWall: Date, ttl: Duration, maxStale: Duration,
    expiresIn: Duration? = nil, cacheLifetime: Duration? = nil, expirySkew: Duration = .zero
  ) {
    self.headers = headers
    self.fetchedAt = fetchedAt
    self.fetchedAtWall = fetchedAtWall
    // A JWT's `exp` is wall time; the fetch start is the one moment known on both clocks.
    var expiresAt = expiresIn.map { fetchedAt + $0 }
    for header in headers {
      guard let exp = JWTExpiry.expiry(ofHeaderValue: header.value) else { continue }
      // Clamped to about 30 years either way, so `Duration.seconds` cannot trap.
      let instant = fetchedAt + .seconds(min(max(exp.timeIntervalSince(fetchedAtWall), -1e9), 1e9))
      expiresAt = min(expiresAt ?? instant, instant)
    }
    self.expiresAt = expiresAt
    self.expiresAtWall = expiresAt.map { fetchedAtWall.addingTimeInterval(($0 - fetchedAt).inSeconds) }
    let soft = fetchedAt + min(ttl, cacheLifetime ?? ttl)
    let hard = expiresAt.map { $0 - max(expirySkew, .zero) }
    self.freshUntil = hard.map { min(soft, $0) } ?? soft
    self.usableUntil = hard.map { min(soft + max(maxStale, .zero), $0) } ?? soft + max(maxStale, .zero)
    self.digest = Self.digest(of: headers)
    self.generation = snapshotGenerations.add(1, ordering: .relaxed).newValue
  }

  /// Whether the headers may be served at `now`.
  public func isUsable(at now: MonotonicInstant) -> Bool {
    now < usableUntil
  }

  /// Whether the headers are within their ttl at `now`.
  public func isFresh(at now: MonotonicInstant) -> Bool {
    now < freshUntil
  }

  /// How long the headers stay fresh from the fetch start: what the refresh-ahead fraction and
  /// the back-off cap are taken of.
  public var lifetime: Duration {
    max(freshUntil - fetchedAt, .zero)
  }

  /// FNV-1a 64 over `name\0value\0` pairs sorted by name then value, so the digest does not
  /// depend on the provider's key order.
  static func digest(of headers: [HeaderField]) -> String {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    func mix<S: Sequence<UInt8>>(_ bytes: S) {
      for byte in bytes {
        hash ^= UInt64(byte)
        hash &*= 0x0000_0100_0000_01b3
      }
      hash ^= 0
      hash &*= 0x0000_0100_0000_01b3
    }
    for header in headers.sorted(by: { ($0.name, $0.value) < ($1.name, $1.value) }) {
      mix(header.name.utf8)
      mix(header.value.utf8)
    }
    let hex = String(hash, radix: 16)
    return String(repeating: "0", count: 16 - hex.count) + hex
  }
}

/// Source of `HeaderSnapshot.generation`; 0 is never handed out, so it can mean "no snapshot".
private let snapshotGenerations = Atomic<UInt64>(0)
