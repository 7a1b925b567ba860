// Keeps one provider's snapshot current, entirely off the hot path.

import Foundation
public import Logging

/// What one refresh did.
public enum RefreshOutcome: Sendable, Hashable {
  /// A valid answer was published.
  case updated(headerCount: Int, digest: String)
  /// The fetch failed: transport error, timeout or non-200 status. The snapshot stays.
  case failed(reason: String)
  /// The answer broke a rule (a `ProviderAnswerError` description). The snapshot stays.
  case rejected(reason: String)
  /// The refresh was cancelled (shutdown); nothing was recorded.
  case cancelled
}

/// Fetches one provider ahead of expiry, retries failures with back-off, and publishes valid
/// answers to its `ProviderState`.
///
/// One actor per provider; `refreshOnce` is single-flight, so there is never more than one
/// fetch of a provider in flight from this refresher (the exception: a fetch the refresher timed
/// out, which is cancelled and abandoned, may still be unwinding when the next one starts;
/// waiting for it would let a fetcher that ignores cancellation stall refreshing for good).
public actor ProviderRefresher {
  /// The state this refresher publishes to.
  public nonisolated let state: ProviderState
  private let fetcher: any ProviderFetcher
  private let clock: any AugmenterClock
  private let logger: Logger
  private let random: @Sendable () -> Double
  private let backoff: BackoffPolicy
  private let observer: (any ProviderFetchObserver)?
  /// The refresh in progress, which concurrent callers join instead of starting another.
  private var inFlight: Task<RefreshOutcome, Never>?
  /// The source's fingerprint when the last fetch started (`ProviderFetcher.sourceSignature`).
  private var lastSignature: String?

  /// How many `refreshOnce` calls joined a refresh already in flight instead of fetching
  /// (a diagnostic; tests use it to observe single flight).
  public private(set) var joinedRefreshes = 0

  /// Creates a refresher; nothing happens until `run()` or `refreshOnce()`.
  ///
  /// - Parameters:
  ///   - random: a source of numbers in [0, 1) for the refresh-ahead and back-off jitter.
  ///   - backoff: the retry spacing after failures.
  ///   - observer: told the result and duration of every fetch (metrics).
  public init(
    state: ProviderState,
    fetcher: any ProviderFetcher,
    clock: any AugmenterClock,
    logger: Logger,
    random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) },
    backoff: BackoffPolicy = .default,
    observer: (any ProviderFetchObserver)? = nil
  ) {
    self.state = state
    self.fetcher = fetcher
    self.clock = clock
    var logger = logger
    logger[metadataKey: "provider"] = "\(state.config.name)"
    self.logger = logger
    self.random = random
    self.backoff = backoff
    self.observer = observer
  }

  /// Refreshes until the task is cancelled: at once, then ahead of each expiry, with back-off
  /// after failures.
  ///
  /// After a success the next refresh is at `fetchedAt + lifetime * f`, `f` uniform in
  /// [0.75, 0.9), where the lifetime runs to the snapshot's `freshUntil` (the soonest of ttl,
  /// cache lifetime and a token's expiry minus the skew): the headers are renewed before they go
  /// stale and instances spread their fetches (kubelet and Vault Agent renew at about 80 % too).
  /// After a failure it is `BackoffPolicy.delay(afterFailures:)` from now, capped at half the
  /// lifetime so short-lived tokens get retries before they expire; a success resets it. No
  /// refresh follows the previous one by less than `minimumRefreshDelay`.
  public func run() async {
    let ttl = state.config.ttl
    while !Task.isCancelled {
      let outcome = await refreshOnce()
      var next: MonotonicInstant
      switch outcome {
      case .updated:
        let snapshot = state.snapshot
        let fetchedAt = snapshot?.fetchedAt ?? clock.now()
        next = fetchedAt + (snapshot?.lifetime ?? ttl).scaled(by: Self.refreshAheadFactor(random()))
      case .failed, .rejected:
        // While the last good headers are usable, their lifetime caps the back-off (a token
        // living seconds gets retries before it expires); once they are not, the usual ttl cap
        // applies, so a provider that keeps failing is not hammered.
        var lifetime = ttl
        if let snapshot = state.snapshot, snapshot.isUsable(at: clock.now()) {
          lifetime = min(max(snapshot.lifetime, Self.minimumRefreshDelay * 2), ttl)
        }
        let delay = backoff.delay(afterFailures: max(1, state.consecutiveFailures), ttl: lifetime, random: random())
        next = clock.now() + delay
      case .cancelled:
        return
      }
      next = max(next, clock.now() + Self.minimumRefreshDelay)
      logger.debug("next provider refresh scheduled", metadata: ["in": "\(DurationText.format(next - clock.now()))"])
      do {
        try await waitForNextRefresh(until: next)
      } catch {
        return  // cancelled
      }
    }
  }

  /// Sleeps until `next`, or until the source's fingerprint differs from the last fetch's when
  /// the fetcher can tell (checked every `watch_interval`): a rotated file is served within a
  /// second, not at the next scheduled refresh.
  private func waitForNextRefresh(until next: MonotonicInstant) async throws {
    let config = state.config
    guard let signature = lastSignature, config.watchInterval > .zero else {
      try await clock.sleep(until: next)
      return
    }
    while clock.now() < next {
      try await clock.sleep(until: min(next, clock.now() + config.watchInterval))
      if fetcher.sourceSignature(config) != signature {
        logger.debug("provider source changed; refreshing")
        return
      }
    }
  }

  /// The least time between two refreshes: a lifetime of zero (a token that expires within the
  /// skew) must not turn the refresher into a busy loop against the provider.
  public static let minimumRefreshDelay: Duration = .milliseconds(250)

  /// Where in the ttl the next refresh happens after a success: [0.75, 0.9).
  static func refreshAheadFactor(_ random: Double) -> Double {
    0.75 + 0.15 * min(max(random, 0), 0.999_999_999)
  }

  /// Fetches, validates and publishes once; a call made while a refresh is in flight waits for
  /// that one and returns its outcome.
  ///
  /// Cancelling the caller that started the refresh cancels it (and callers that joined it get
  /// `.cancelled`).
  public func refreshOnce() async -> RefreshOutcome {
    if let inFlight {
      joinedRefreshes += 1
      return await inFlight.value
    }
    // Isolated to this actor: it starts only once this method suspends, after `inFlight` is set,
    // and clears `inFlight` itself before its result is delivered.
    let task = Task { await self.performRefresh() }
    inFlight = task
    return await withTaskCancellationHandler {
      await task.value
    } onCancel: {
      task.cancel()
    }
  }

  private func performRefresh() async -> RefreshOutcome {
    defer { inFlight = nil }
    let config = state.config
    let fetcher = self.fetcher
    let started = clock.now()
    let startedWall = clock.wallNow()
    // Before the fetch: a change while it reads is then seen as a change, and read again.
    lastSignature = fetcher.sourceSignature(config)
    // The refresher enforces the timeout itself on its own clock: fetchers should too, but one
    // that hangs must not stop the refreshing.
    let result = await race({ try await fetcher.fetch(config) }, deadline: started + config.timeout, clock: clock)
    let observer = self.observer
    let clock = self.clock
    func observe(_ result: ProviderFetchResult) {
      observer?.fetchFinished(result, duration: clock.now() - started)
    }

    switch result {
    case .cancelled:
      return .cancelled
    case .timedOut:
      observe(.timeout)
      return failed("timed out after \(DurationText.format(config.timeout))")
    case .finished(.failure(let error)):
      if error is CancellationError && Task.isCancelled { return .cancelled }
      if let refusal = error as? ProviderAnswerError {
        observe(.rejected)
        return rejected(refusal.description)
      }
      observe((error as? any ProviderFetchFailureClassifying)?.fetchResult ?? .connectError)
      return failed("fetch failed: \(Self.summary(of: error))")
    case .finished(.success(let answer)):
      guard answer.status == 200 else {
        observe(.httpError)
        return failed("HTTP status \(answer.status)")
      }
      switch ProviderAnswerValidator.validate(answer, limits: ProviderAnswerLimits(provider: config)) {
      case .success(let headers):
        let snapshot = state.makeSnapshot(
          headers, fetchedAt: started, fetchedAtWall: startedWall, expiresIn: answer.expiresIn,
          cacheLifetime: answer.cacheLifetime)
        // A value that is already past its expiry minus the skew would replace headers that may
        // still be good with ones that may never be served: refused, like any broken answer.
        guard snapshot.isUsable(at: clock.now()) else {
          observe(.rejected)
          let left = (snapshot.expiresAt ?? started) - clock.now()
          return rejected(
            "the values expire in \(DurationText.format(max(left, .zero))), within expiry_skew "
              + "(\(DurationText.format(config.expirySkew))): an IdP clock ahead of ours or a very short lifetime")
        }
        let previous = state.snapshot?.digest
        state.publish(snapshot)
        observe(.ok)
        var metadata: Logger.Metadata = [
          "header_count": "\(headers.count)",
          "digest": "\(snapshot.digest)",
          "changed": "\(previous != snapshot.digest)",
          "fresh_for": "\(DurationText.format(snapshot.lifetime))",
        ]
        if let expiresAt = snapshot.expiresAtWall {
          metadata["expires_at"] = "\(expiresAt.ISO8601Format())"
        }
        logger.info("provider refreshed", metadata: metadata)
        return .updated(headerCount: headers.count, digest: snapshot.digest)
      case .failure(let error):
        observe(.rejected)
        return rejected(error.description)
      }
    }
  }

  private func rejected(_ reason: String) -> RefreshOutcome {
    let failures = state.recordRejection(reason, at: clock.wallNow())
    logger.warning(
      "provider answer rejected",
      metadata: [
        "reason": "\(reason)",
        "consecutive_failures": "\(failures)",
        "serving_previous": "\(state.usableHeaders(at: clock.now()) != nil)",
      ])
    return .rejected(reason: reason)
  }

  private func failed(_ reason: String) -> RefreshOutcome {
    let failures = state.recordFailure(reason, at: clock.wallNow())
    logger.warning(
      "provider refresh failed",
      metadata: [
        "reason": "\(reason)",
        "consecutive_failures": "\(failures)",
        "serving_previous": "\(state.usableHeaders(at: clock.now()) != nil)",
      ])
    return .failed(reason: reason)
  }

  /// An error's description on one bounded line: it goes to logs and `/status`.
  static func summary(of error: any Error) -> String {
    let text = String(describing: error).split(whereSeparator: \.isNewline).joined(separator: " ")
    return text.count > 300 ? String(text.prefix(300)) + "…" : text
  }
}
