//===----------------------------------------------------------------------===//
// Augmenter — the running provider refreshers: started and stopped one by one as reloads ask.
//===----------------------------------------------------------------------===//

import AugmenterCore
import AugmenterMetrics
import Logging
import Synchronization

/// One refresher task (and its metrics) per provider state in force.
///
/// A reload starts refreshers for new states and stops those of states it dropped, while the
/// others keep running untouched: each refresher is its own task rather than a child of one task
/// group, since a group cannot cancel one child. Every task is cancelled and awaited by
/// `stopAll()` at shutdown.
final class ProviderRefreshers: Sendable {
  private struct Running: Sendable {
    let task: Task<Void, Never>
    let metrics: ProviderMetrics
  }

  private let fetcher: any ProviderFetcher
  private let clock: any AugmenterClock
  private let logger: Logger
  private let metrics: MetricsRegistry
  /// By state identity; `nil` once `stopAll()` ran (nothing starts after shutdown).
  private let running = Mutex<[ObjectIdentifier: Running]?>([:])

  init(fetcher: any ProviderFetcher, clock: any AugmenterClock, logger: Logger, metrics: MetricsRegistry) {
    self.fetcher = fetcher
    self.clock = clock
    self.logger = logger
    self.metrics = metrics
  }

  /// Starts a refresher (it fetches at once) and the series of each of `states`.
  func start(_ states: [ProviderState]) {
    for state in states {
      let observer = ProviderMetrics(state: state, clock: self.clock, registry: self.metrics)
      let refresher = ProviderRefresher(
        state: state, fetcher: self.fetcher, clock: self.clock, logger: self.logger, observer: observer)
      let started = self.running.withLock { running -> Bool in
        guard running != nil, running?[ObjectIdentifier(state)] == nil else { return false }
        running?[ObjectIdentifier(state)] = Running(task: Task { await refresher.run() }, metrics: observer)
        return true
      }
      if !started { observer.remove() }
    }
  }

  /// Stops the refreshers of `states` (cancelled, not awaited: a fetch in flight unwinds on its
  /// own) and takes their series out of `/metrics`.
  func stop(_ states: [ProviderState]) {
    for state in states {
      let entry = self.running.withLock { $0?.removeValue(forKey: ObjectIdentifier(state)) }
      entry?.task.cancel()
      entry?.metrics.remove()
    }
  }

  /// Waits until each of `states` has a first result (headers, or a failure) or `limit` passed:
  /// a reload publishes a configuration with new providers once they can serve.
  func waitForFirstResults(of states: [ProviderState], limit: Duration) async {
    let deadline = ContinuousClock.now + limit
    while ContinuousClock.now < deadline, !Task.isCancelled {
      if states.allSatisfy({ $0.snapshot != nil || $0.consecutiveFailures > 0 }) { return }
      try? await Task.sleep(for: .milliseconds(10))
    }
  }

  /// Cancels every refresher and waits for each to return (shutdown).
  func stopAll() async {
    let all = self.running.withLock { running in
      defer { running = nil }
      return Array((running ?? [:]).values)
    }
    for entry in all { entry.task.cancel() }
    for entry in all { await entry.task.value }
  }
}
