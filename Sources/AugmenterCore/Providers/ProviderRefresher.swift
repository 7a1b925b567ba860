// Keeps one provider's snapshot current, entirely off the hot path.

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
  /// After a success the next refresh is at `fetchedAt + ttl * f`, `f` uniform in [0.75, 0.9),
  /// so the headers are renewed before they go stale and instances spread their fetches. After
  /// a failure it is `BackoffPolicy.delay(afterFailures:)` from now; a success resets it.
  public func run() async {
    let ttl = state.config.ttl
    while !Task.isCancelled {
      let outcome = await refreshOnce()
      let next: MonotonicInstant
      switch outcome {
      case .updated:
        let fetchedAt = state.snapshot?.fetchedAt ?? clock.now()
        next = fetchedAt + ttl.scaled(by: Self.refreshAheadFactor(random()))
      case .failed, .rejected:
        let delay = backoff.delay(afterFailures: max(1, state.consecutiveFailures), ttl: ttl, random: random())
        next = clock.now() + delay
      case .cancelled:
        return
      }
      logger.debug("next provider refresh scheduled", metadata: ["in": "\(DurationText.format(next - clock.now()))"])
      do {
        try await clock.sleep(until: next)
      } catch {
        return  // cancelled
      }
    }
  }

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
      observe((error as? any ProviderFetchFailureClassifying)?.fetchResult ?? .connectError)
      return failed("fetch failed: \(Self.summary(of: error))")
    case .finished(.success(let answer)):
      guard answer.status == 200 else {
        observe(.httpError)
        return failed("HTTP status \(answer.status)")
      }
      switch ProviderAnswerValidator.validate(answer, limits: ProviderAnswerLimits(provider: config)) {
      case .success(let headers):
        let previous = state.snapshot?.digest
        let snapshot = state.publish(headers, fetchedAt: started, fetchedAtWall: startedWall)
        observe(.ok)
        logger.info(
          "provider refreshed",
          metadata: [
            "header_count": "\(headers.count)",
            "digest": "\(snapshot.digest)",
            "changed": "\(previous != snapshot.digest)",
          ])
        return .updated(headerCount: headers.count, digest: snapshot.digest)
      case .failure(let error):
        let failures = state.recordRejection(error.description, at: clock.wallNow())
        observe(.rejected)
        logger.warning(
          "provider answer rejected",
          metadata: [
            "reason": "\(error.description)",
            "consecutive_failures": "\(failures)",
            "serving_previous": "\(state.usableHeaders(at: clock.now()) != nil)",
          ])
        return .rejected(reason: error.description)
      }
    }
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
