// What a provider published: immutable, so the hot path can hold one without locking.

public import Foundation
import Synchronization

/// The published, validated headers of one provider, with their freshness deadlines.
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
  /// Until when the headers are fresh: `fetchedAt + ttl`.
  public let freshUntil: MonotonicInstant
  /// Until when they may be served: `fetchedAt + ttl + max_stale`.
  public let usableUntil: MonotonicInstant
  /// A short hash of the header set (FNV-1a 64 over the sorted name/value pairs, 16 hex
  /// digits): tells operators whether two instances serve the same set, never the values.
  public let digest: String
  /// Identifies this snapshot among all snapshots of the process (the decision cache's key).
  let generation: UInt64

  /// Creates a snapshot of `headers` fetched at `fetchedAt` for a provider with `ttl` and
  /// `maxStale`.
  public init(headers: [HeaderField], fetchedAt: MonotonicInstant, fetchedAtWall: Date, ttl: Duration, maxStale: Duration) {
    self.headers = headers
    self.fetchedAt = fetchedAt
    self.fetchedAtWall = fetchedAtWall
    self.freshUntil = fetchedAt + ttl
    self.usableUntil = fetchedAt + ttl + max(maxStale, .zero)
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
