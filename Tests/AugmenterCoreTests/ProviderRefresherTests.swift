// The refresher on a manual clock: scheduling, back-off, single flight, staleness, rejection,
// timeouts and logging. No test sleeps; time moves only through `ManualClock.advance`.

import AugmenterCore
import Foundation
import Logging
import TestSupport
import Testing

/// A refresher over a scripted fetcher and a manual clock.
struct RefresherHarness {
  let clock = ManualClock()
  let fetcher: ScriptedFetcher
  let state: ProviderState
  let refresher: ProviderRefresher
  let logs: CapturingLogHandler.Store
  let start: MonotonicInstant

  init(
    _ steps: [FetchStep],
    ttl: Duration = .seconds(100),
    timeout: Duration = .seconds(7),
    maxStale: Duration = .zero,
    random: Double = 0.5,
    backoff: BackoffPolicy = BackoffPolicy(initial: .milliseconds(250), multiplier: 2, maximum: .seconds(30), jitter: .none),
    expirySkew: Duration = ProviderConfig.defaultExpirySkew,
    observer: (any ProviderFetchObserver)? = nil
  ) {
    fetcher = ScriptedFetcher(steps)
    state = ProviderState(
      config: ProviderConfig(
        name: "sidecar", url: "http://user:pw@127.0.0.1:8081/headers?k=secret", ttl: ttl, timeout: timeout, maxStale: maxStale,
        expirySkew: expirySkew))
    let (logger, store) = CapturingLogHandler.logger()
    logs = store
    refresher = ProviderRefresher(
      state: state, fetcher: fetcher, clock: clock, logger: logger, random: { random }, backoff: backoff,
      observer: observer)
    start = clock.now()
  }

  /// Waits for the next sleep that is not a fetch timeout (which is `timeout` after a fetch
  /// start, and tests pick a timeout no expected deadline equals).
  func nextScheduledRefresh(after from: MonotonicInstant, timeout: Duration = .seconds(7)) async -> MonotonicInstant {
    await clock.waitForSleeper { $0 > from && $0 != from + timeout }
  }
}

let okAnswer = FetchedAnswer.json(#"{"x-token": "S3CR3T-t0ken", "X-Other": "b"}"#)

@Suite("Provider refresher", .timeLimit(.minutes(1)))
struct ProviderRefresherTests {
  @Test("fetches at once, then ahead of expiry at fetchedAt + ttl * [0.75, 0.9)", arguments: [0.0, 0.5, 0.999])
  func refreshAhead(random: Double) async throws {
    let harness = RefresherHarness([.answer(okAnswer)], random: random)
    let run = Task { await harness.refresher.run() }
    defer { run.cancel() }

    await harness.fetcher.waitForCalls(1)
    let deadline = await harness.nextScheduledRefresh(after: harness.start)
    let snapshot = try #require(harness.state.snapshot)
    #expect(snapshot.fetchedAt == harness.start)
    let offset = deadline - harness.start
    #expect(offset >= .seconds(75) && offset < .seconds(90))
    #expect(offset == .nanoseconds(Int64(((0.75 + 0.15 * random) * 100e9).rounded())))
    #expect(harness.fetcher.calls == 1)

    // At the scheduled time the headers are still fresh, and the next fetch happens.
    #expect(harness.state.status(at: deadline).fresh)
    harness.clock.advance(to: deadline)
    await harness.fetcher.waitForCalls(2)
    let next = await harness.nextScheduledRefresh(after: deadline)
    #expect(next - deadline == offset)
  }

  @Test("back-off doubles from 250ms and is capped at 30s")
  func backoffSequence() async {
    let harness = RefresherHarness([.fail(TestFetchError(description: "connection refused"))])
    let run = Task { await harness.refresher.run() }
    defer { run.cancel() }

    var expected: [Duration] = [.milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2), .seconds(4)]
    expected += [.seconds(8), .seconds(16), .seconds(30), .seconds(30)]
    for (attempt, delay) in expected.enumerated() {
      await harness.fetcher.waitForCalls(attempt + 1)
      let now = harness.clock.now()
      let deadline = await harness.nextScheduledRefresh(after: now)
      #expect(deadline - now == delay, "attempt \(attempt + 1)")
      #expect(harness.state.consecutiveFailures == attempt + 1)
      harness.clock.advance(to: deadline)
    }
  }

  @Test("back-off is capped at ttl/2 for short ttls")
  func backoffTTLCap() async {
    let harness = RefresherHarness([.fail(TestFetchError(description: "refused"))], ttl: .seconds(10), timeout: .seconds(3))
    let run = Task { await harness.refresher.run() }
    defer { run.cancel() }
    let expected: [Duration] = [.milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2), .seconds(4), .seconds(5), .seconds(5)]
    for (attempt, delay) in expected.enumerated() {
      await harness.fetcher.waitForCalls(attempt + 1)
      let now = harness.clock.now()
      let deadline = await harness.nextScheduledRefresh(after: now, timeout: .seconds(3))
      #expect(deadline - now == delay, "attempt \(attempt + 1)")
      harness.clock.advance(to: deadline)
    }
  }

  @Test("equal jitter keeps the delay within [d/2, d)", arguments: [0.0, 0.5, 0.99])
  func equalJitter(random: Double) {
    let policy = BackoffPolicy.default
    for failures in 1...10 {
      let plain = BackoffPolicy(initial: policy.initial, multiplier: policy.multiplier, maximum: policy.maximum, jitter: .none)
        .delay(afterFailures: failures, ttl: .seconds(360), random: random)
      let jittered = policy.delay(afterFailures: failures, ttl: .seconds(360), random: random)
      #expect(jittered >= plain / 2 && jittered < plain)
      #expect(jittered == plain / 2 + (plain / 2) * random)
    }
    #expect(policy.delay(afterFailures: 1, ttl: .seconds(360), random: 0) == .milliseconds(125))
    let full = BackoffPolicy(initial: .seconds(1), multiplier: 2, maximum: .seconds(30), jitter: .full)
    #expect(full.delay(afterFailures: 3, ttl: .seconds(360), random: 0.25) == .seconds(1))
  }

  @Test("back-off resets after a success")
  func backoffReset() async {
    let error = TestFetchError(description: "refused")
    let harness = RefresherHarness([.fail(error), .fail(error), .answer(okAnswer), .fail(error), .fail(error)])
    let run = Task { await harness.refresher.run() }
    defer { run.cancel() }

    var now = harness.clock.now()
    for (call, delay) in [(1, Duration.milliseconds(250)), (2, .milliseconds(500))] {
      await harness.fetcher.waitForCalls(call)
      let deadline = await harness.nextScheduledRefresh(after: now)
      #expect(deadline - now == delay)
      harness.clock.advance(to: deadline)
      now = deadline
    }
    await harness.fetcher.waitForCalls(3)
    let refresh = await harness.nextScheduledRefresh(after: now)
    #expect(refresh - now == .milliseconds(82_500))
    #expect(harness.state.consecutiveFailures == 0)
    harness.clock.advance(to: refresh)
    now = refresh
    await harness.fetcher.waitForCalls(4)
    let retry = await harness.nextScheduledRefresh(after: now)
    #expect(retry - now == .milliseconds(250))
  }

  @Test("single flight: concurrent refreshes share one fetch")
  func singleFlight() async {
    let harness = RefresherHarness([.block, .answer(okAnswer)])
    let first = Task { await harness.refresher.refreshOnce() }
    await harness.fetcher.waitForCalls(1)
    let second = Task { await harness.refresher.refreshOnce() }
    // Wait until the second call has joined the one in flight (it must not start a fetch).
    // Bounded, so a broken single flight fails the test instead of hanging it.
    for _ in 0..<100_000 where await harness.refresher.joinedRefreshes < 1 {
      await Task.yield()
    }
    #expect(await harness.refresher.joinedRefreshes == 1)
    #expect(harness.fetcher.calls == 1)

    harness.fetcher.releaseBlocked(with: okAnswer)
    let outcomes = [await first.value, await second.value]
    #expect(outcomes[0] == outcomes[1])
    guard case .updated(headerCount: 2, _) = outcomes[0] else {
      Issue.record("unexpected \(outcomes[0])")
      return
    }
    #expect(harness.fetcher.calls == 1)

    // Once it is over, a new call fetches again.
    _ = await harness.refresher.refreshOnce()
    #expect(harness.fetcher.calls == 2)
  }

  @Test("the last good headers are served until ttl + max_stale, then unusable")
  func staleThenUnusable() async throws {
    let harness = RefresherHarness(
      [.answer(okAnswer), .fail(TestFetchError(description: "refused"))], maxStale: .seconds(20))
    let outcome = await harness.refresher.refreshOnce()
    guard case .updated = outcome else {
      Issue.record("unexpected \(outcome)")
      return
    }
    let snapshot = try #require(harness.state.snapshot)
    #expect(snapshot.freshUntil == harness.start + .seconds(100))
    #expect(snapshot.usableUntil == harness.start + .seconds(120))

    harness.clock.advance(to: harness.start + .seconds(100))
    #expect(await harness.refresher.refreshOnce() == .failed(reason: "fetch failed: refused"))
    let stale = harness.state.status(at: harness.clock.now())
    #expect(!stale.fresh && stale.usable)
    #expect(harness.state.usableHeaders(at: harness.clock.now())?.count == 2)
    #expect(harness.state.usableHeaders(at: harness.start + .seconds(120) - .nanoseconds(1))?.count == 2)
    #expect(harness.state.usableHeaders(at: harness.start + .seconds(120)) == nil)
    #expect(!harness.state.status(at: harness.start + .seconds(120)).usable)
    // The snapshot is still there (for /status), just not usable.
    #expect(harness.state.snapshot?.digest == snapshot.digest)
  }

  @Test("a rejected answer keeps the previous snapshot and records the rejection")
  func rejectionKeepsSnapshot() async throws {
    let bad = FetchedAnswer.json(#"{"x-token": "S3CR3T-t0ken\r\nx-evil: 1"}"#)
    let harness = RefresherHarness([.answer(okAnswer), .answer(bad)])
    _ = await harness.refresher.refreshOnce()
    let before = try #require(harness.state.snapshot)

    let outcome = await harness.refresher.refreshOnce()
    #expect(outcome == .rejected(reason: #"header "x-token": value contains CR or LF"#))
    let after = try #require(harness.state.snapshot)
    #expect(after.digest == before.digest)
    #expect(after.fetchedAt == before.fetchedAt)
    let status = harness.state.status(at: harness.clock.now())
    #expect(status.lastRejection == #"header "x-token": value contains CR or LF"#)
    #expect(status.consecutiveFailures == 1)
    #expect(status.lastError == nil)
    #expect(status.usable)
  }

  @Test("a non-200 answer is a failure with its status")
  func httpStatusFailure() async {
    let harness = RefresherHarness([.answer(.json("oops", status: 503))])
    #expect(await harness.refresher.refreshOnce() == .failed(reason: "HTTP status 503"))
    #expect(harness.state.status(at: harness.clock.now()).lastError == "HTTP status 503")
  }

  @Test("a hung fetcher is timed out by the refresher, which goes on refreshing")
  func hungFetcherTimedOut() async {
    let harness = RefresherHarness([.block, .answer(okAnswer)])
    let outcome = Task { await harness.refresher.refreshOnce() }
    await harness.fetcher.waitForCalls(1)
    let timeout = await harness.clock.waitForSleeper { $0 == harness.start + .seconds(7) }
    harness.clock.advance(to: timeout)
    #expect(await outcome.value == .failed(reason: "timed out after 7s"))
    #expect(harness.state.status(at: harness.clock.now()).lastError == "timed out after 7s")
    #expect(harness.clock.sleeperDeadlines.isEmpty)

    // Not stalled: the next refresh fetches again even though the first fetch never returned.
    guard case .updated = await harness.refresher.refreshOnce() else {
      Issue.record("expected an update")
      return
    }
    #expect(harness.fetcher.calls == 2)
    harness.fetcher.releaseBlocked(with: okAnswer)
  }

  @Test("run stops when its task is cancelled")
  func cancellation() async {
    let harness = RefresherHarness([.answer(okAnswer)])
    let run = Task { await harness.refresher.run() }
    await harness.fetcher.waitForCalls(1)
    _ = await harness.nextScheduledRefresh(after: harness.start)
    run.cancel()
    await run.value
    #expect(harness.clock.sleeperDeadlines.isEmpty)
    #expect(harness.fetcher.calls == 1)
  }

  @Test("logs one line per outcome with the provider name, and never a header value")
  func logging() async {
    let harness = RefresherHarness([
      .answer(okAnswer),
      .answer(.json(#"{"x-token": "S3CR3T-t0ken\n"}"#)),
      .answer(.json(#"{"x-token": "S3CR3T-t0ken", "Host": "S3CR3T-t0ken"}"#)),
      .fail(TestFetchError(description: "connection refused")),
    ])
    for _ in 0..<4 { _ = await harness.refresher.refreshOnce() }

    let lines = harness.logs.all.filter { $0.level >= .info }
    #expect(lines.count == 4)
    #expect(lines.allSatisfy { $0.metadata["provider"] == "sidecar" })
    #expect(lines[0].level == .info)
    #expect(lines[0].metadata["header_count"] == "2")
    #expect(lines[0].metadata["digest"] == harness.state.snapshot?.digest)
    #expect(lines[1].level == .warning)
    #expect(lines[1].metadata["reason"] == #"header "x-token": value contains CR or LF"#)
    #expect(lines[1].metadata["consecutive_failures"] == "1")
    #expect(lines[3].level == .warning)
    #expect(lines[3].metadata["reason"] == "fetch failed: connection refused")
    #expect(lines[3].metadata["consecutive_failures"] == "3")
    for line in harness.logs.all {
      #expect(!line.rendered.contains("S3CR3T"), "\(line.rendered)")
    }
  }

  @Test("status: snake_case JSON, URL without credentials, no values")
  func statusJSON() async throws {
    let harness = RefresherHarness([.answer(okAnswer)])
    _ = await harness.refresher.refreshOnce()
    harness.clock.advance(by: .milliseconds(1500))
    let status = harness.state.status(at: harness.clock.now())
    #expect(status.url == "http://127.0.0.1:8081/headers")
    #expect(status.ageSeconds == 1.5)
    #expect(status.headerCount == 2)
    #expect(status.lastSuccess == harness.clock.wallOrigin.addingTimeInterval(Double(harness.start.nanoseconds) / 1e9))

    let data = try JSONEncoder().encode(status)
    let text = try #require(String(data: data, encoding: .utf8))
    #expect(!text.contains("S3CR3T"))
    #expect(!text.contains("pw"))
    let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    #expect(
      Set(object.keys) == [
        "name", "url", "required", "last_success", "age_seconds", "fresh", "usable", "consecutive_failures", "last_error",
        "last_rejection", "last_failure", "header_count", "digest", "expires_at", "usable_seconds",
      ])
    #expect(object["consecutive_failures"] as? Int == 0)
    #expect(object["last_error"] is NSNull)
    #expect(try JSONDecoder().decode(ProviderStatus.self, from: data) == status)
  }
}
