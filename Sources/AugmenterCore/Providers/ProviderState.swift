// The shared state of one provider: written by its refresher, read by every check and by
// `/status`.

public import Foundation
import Synchronization

/// One provider's published snapshot and refresh history.
///
/// The snapshot sits behind its own lock, held only to copy it out, so a check never waits on
/// a refresh; the history has a separate lock so `/status` readers don't contend with checks.
public final class ProviderState: Sendable {
  /// The provider's configuration.
  public let config: ProviderConfig
  /// The provider URL without userinfo, query or fragment (which may carry credentials), for
  /// logs and `/status`.
  public let displayURL: String

  private let current = Mutex<HeaderSnapshot?>(nil)
  private let history = Mutex<History>(History())

  private struct History {
    var consecutiveFailures = 0
    var lastError: String?
    var lastRejection: String?
    var lastFailure: Date?
  }

  /// Creates the state of a provider that has not been fetched yet.
  public init(config: ProviderConfig) {
    self.config = config
    self.displayURL = Self.redacted(config.sourceURL)
  }

  /// The latest good snapshot, if any fetch ever succeeded.
  public var snapshot: HeaderSnapshot? {
    current.withLock { $0 }
  }

  /// The headers to serve at `now`: `nil` when nothing was ever fetched or the last good
  /// snapshot is past `usableUntil`.
  public func usableHeaders(at now: MonotonicInstant) -> [HeaderField]? {
    guard let snapshot, snapshot.isUsable(at: now) else { return nil }
    return snapshot.headers
  }

  /// How many refreshes failed (or were rejected) since the last success.
  public var consecutiveFailures: Int {
    history.withLock { $0.consecutiveFailures }
  }

  /// Publishes a successful fetch and resets the failure count.
  ///
  /// The refresher calls this; it is public so adapters' tests can stage a provider's state.
  @discardableResult
  public func publish(
    _ headers: [HeaderField], fetchedAt: MonotonicInstant, fetchedAtWall: Date, expiresIn: Duration? = nil,
    cacheLifetime: Duration? = nil
  ) -> HeaderSnapshot {
    let snapshot = makeSnapshot(
      headers, fetchedAt: fetchedAt, fetchedAtWall: fetchedAtWall, expiresIn: expiresIn, cacheLifetime: cacheLifetime)
    publish(snapshot)
    return snapshot
  }

  /// A snapshot of `headers` with this provider's ttl, max_stale and expiry skew, not published
  /// (the refresher first checks that it is usable at all).
  public func makeSnapshot(
    _ headers: [HeaderField], fetchedAt: MonotonicInstant, fetchedAtWall: Date, expiresIn: Duration? = nil,
    cacheLifetime: Duration? = nil
  ) -> HeaderSnapshot {
    HeaderSnapshot(
      headers: headers, fetchedAt: fetchedAt, fetchedAtWall: fetchedAtWall, ttl: config.ttl, maxStale: config.maxStale,
      expiresIn: expiresIn, cacheLifetime: cacheLifetime, expirySkew: config.expirySkew)
  }

  /// Publishes `snapshot` and resets the failure count.
  public func publish(_ snapshot: HeaderSnapshot) {
    current.withLock { $0 = snapshot }
    history.withLock { $0.consecutiveFailures = 0 }
  }

  /// Records a failed fetch (transport error, timeout, non-200); the snapshot stays.
  ///
  /// - Returns: the consecutive failure count, this one included.
  @discardableResult
  public func recordFailure(_ reason: String, at wall: Date) -> Int {
    record(reason, as: \.lastError, at: wall)
  }

  /// Records a refused answer (a `ProviderAnswerError` description); the snapshot stays.
  ///
  /// - Returns: the consecutive failure count, this one included.
  @discardableResult
  public func recordRejection(_ reason: String, at wall: Date) -> Int {
    record(reason, as: \.lastRejection, at: wall)
  }

  /// Counts one more failure, keeping `reason` in `field` (`lastError` or `lastRejection`).
  private func record(_ reason: String, as field: WritableKeyPath<History, String?>, at wall: Date) -> Int {
    history.withLock {
      $0.consecutiveFailures += 1
      $0[keyPath: field] = reason
      $0.lastFailure = wall
      return $0.consecutiveFailures
    }
  }

  /// The provider's state for `/status` at `now`.
  public func status(at now: MonotonicInstant) -> ProviderStatus {
    let snapshot = self.snapshot
    let history = self.history.withLock { $0 }
    return ProviderStatus(
      name: config.name,
      url: displayURL,
      required: config.required,
      lastSuccess: snapshot?.fetchedAtWall,
      ageSeconds: snapshot.map { max(0, (now - $0.fetchedAt).inSeconds) },
      fresh: snapshot?.isFresh(at: now) ?? false,
      usable: snapshot?.isUsable(at: now) ?? false,
      consecutiveFailures: history.consecutiveFailures,
      lastError: history.lastError,
      lastRejection: history.lastRejection,
      lastFailure: history.lastFailure,
      headerCount: snapshot?.headers.count ?? 0,
      digest: snapshot?.digest,
      expiresAt: snapshot?.expiresAtWall,
      usableSeconds: snapshot.map { max(0, ($0.usableUntil - now).inSeconds) })
  }

  /// `url` without userinfo, query and fragment.
  static func redacted(_ url: String) -> String {
    guard var components = URLComponents(string: url) else { return "" }
    components.user = nil
    components.password = nil
    components.query = nil
    components.fragment = nil
    return components.string ?? ""
  }
}

/// One provider's line in `/status`; JSON keys are snake_case. Never holds header values.
public struct ProviderStatus: Sendable, Codable, Hashable {
  /// The provider's name.
  public var name: String
  /// Its URL without userinfo, query or fragment.
  public var url: String
  /// Whether readiness and `on_unavailable` consider it.
  public var required: Bool
  /// Wall time of the fetch behind the current snapshot.
  public var lastSuccess: Date?
  /// Seconds since that fetch started.
  public var ageSeconds: Double?
  /// Whether the snapshot is within its ttl.
  public var fresh: Bool
  /// Whether the snapshot may be served (within ttl + max_stale).
  public var usable: Bool
  /// Failed or rejected refreshes since the last success.
  public var consecutiveFailures: Int
  /// The most recent fetch failure (transport error, timeout, HTTP status), even if recovered
  /// since; `consecutiveFailures` tells whether it is current.
  public var lastError: String?
  /// The most recent refused answer (which rule it broke), even if recovered since.
  public var lastRejection: String?
  /// Wall time of the most recent failure or rejection.
  public var lastFailure: Date?
  /// How many headers the current snapshot holds.
  public var headerCount: Int
  /// The current snapshot's digest.
  public var digest: String?
  /// The wall time at which the current values expire by their own account (`expires_in`, a
  /// JWT's `exp`), before the skew; `nil` when they carry no expiry.
  public var expiresAt: Date?
  /// Seconds left until the current values may no longer be served (0 once unusable).
  public var usableSeconds: Double?

  /// Creates a status line.
  public init(
    name: String, url: String, required: Bool, lastSuccess: Date?, ageSeconds: Double?, fresh: Bool, usable: Bool,
    consecutiveFailures: Int, lastError: String?, lastRejection: String?, lastFailure: Date?, headerCount: Int,
    digest: String?, expiresAt: Date? = nil, usableSeconds: Double? = nil
  ) {
    self.name = name
    self.url = url
    self.required = required
    self.lastSuccess = lastSuccess
    self.ageSeconds = ageSeconds
    self.fresh = fresh
    self.usable = usable
    self.consecutiveFailures = consecutiveFailures
    self.lastError = lastError
    self.lastRejection = lastRejection
    self.lastFailure = lastFailure
    self.headerCount = headerCount
    self.digest = digest
    self.expiresAt = expiresAt
    self.usableSeconds = usableSeconds
  }

  enum CodingKeys: String, CodingKey {
    case name, url, required
    case lastSuccess = "last_success"
    case ageSeconds = "age_seconds"
    case fresh, usable
    case consecutiveFailures = "consecutive_failures"
    case lastError = "last_error"
    case lastRejection = "last_rejection"
    case lastFailure = "last_failure"
    case headerCount = "header_count"
    case digest
    case expiresAt = "expires_at"
    case usableSeconds = "usable_seconds"
  }

  /// Encodes every key, with `null` for absent values, so `/status` always has the same shape.
  public func encode(to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: CodingKeys.self)
    try container.encode(name, forKey: .name)
    try container.encode(url, forKey: .url)
    try container.encode(required, forKey: .required)
    try container.encode(lastSuccess, forKey: .lastSuccess)
    try container.encode(ageSeconds, forKey: .ageSeconds)
    try container.encode(fresh, forKey: .fresh)
    try container.encode(usable, forKey: .usable)
    try container.encode(consecutiveFailures, forKey: .consecutiveFailures)
    try container.encode(lastError, forKey: .lastError)
    try container.encode(lastRejection, forKey: .lastRejection)
    try container.encode(lastFailure, forKey: .lastFailure)
    try container.encode(headerCount, forKey: .headerCount)
    try container.encode(digest, forKey: .digest)
    try container.encode(expiresAt, forKey: .expiresAt)
    try container.encode(usableSeconds, forKey: .usableSeconds)
  }
}
