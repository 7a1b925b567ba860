// What the refresher tells its observer (the metrics) about each fetch: the result by kind and
// the time it took on the refresher's clock.

import AugmenterCore
import Logging
import Synchronization
import TestSupport
import Testing

/// Keeps every report.
final class RecordingFetchObserver: ProviderFetchObserver {
  let reports = Mutex<[(ProviderFetchResult, Duration)]>([])

  func fetchFinished(_ result: ProviderFetchResult, duration: Duration) {
    reports.withLock { $0.append((result, duration)) }
  }

  var results: [ProviderFetchResult] { reports.withLock { $0.map(\.0) } }
}

/// A fetch failure that says how it is counted, as `HTTPProviderFetcher.FetchError` does.
struct ClassifiedFetchError: ProviderFetchFailureClassifying {
  var fetchResult: ProviderFetchResult
}

/// Always throws `error`.
struct ThrowingFetcher: ProviderFetcher {
  var error: any Error & Sendable
  func fetch(_ provider: ProviderConfig) async throws -> FetchedAnswer { throw error }
}

@Suite("Provider fetch observer", .timeLimit(.minutes(1)))
struct ProviderFetchObserverTests {
  @Test("ok, http_error, rejected and connect_error are reported once per fetch, in order")
  func resultsByKind() async {
    let observer = RecordingFetchObserver()
    let harness = RefresherHarness(
      [
        .answer(okAnswer), .answer(.json("{}", status: 503)), .answer(.json(#"{"x-a": 1}"#)),
        .fail(TestFetchError(description: "connection refused")),
      ],
      observer: observer)
    for _ in 0..<4 { _ = await harness.refresher.refreshOnce() }
    #expect(observer.results == [.ok, .httpError, .rejected, .connectError])
    #expect(observer.reports.withLock { $0.allSatisfy { $0.1 == .zero } }, "the manual clock did not move")
  }

  @Test("a fetcher's own timeout and the refresher's deadline are both counted as timeout, with the time waited")
  func timeouts() async {
    let observer = RecordingFetchObserver()
    let classified = ProviderRefresher(
      state: ProviderState(config: ProviderConfig(name: "p", url: "http://127.0.0.1:1/h")),
      fetcher: ThrowingFetcher(error: ClassifiedFetchError(fetchResult: .timeout)),
      clock: ManualClock(), logger: .init(label: "test"), observer: observer)
    _ = await classified.refreshOnce()
    #expect(observer.results == [.timeout])

    let hung = RecordingFetchObserver()
    let harness = RefresherHarness([.block, .answer(okAnswer)], observer: hung)
    let outcome = Task { await harness.refresher.refreshOnce() }
    await harness.fetcher.waitForCalls(1)
    let timeout = await harness.clock.waitForSleeper { $0 == harness.start + .seconds(7) }
    harness.clock.advance(to: timeout)
    _ = await outcome.value
    #expect(hung.reports.withLock { $0.map(\.0) == [.timeout] && $0.map(\.1) == [.seconds(7)] })
    harness.fetcher.releaseBlocked(with: okAnswer)
  }
}
