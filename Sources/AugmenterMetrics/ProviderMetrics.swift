//===----------------------------------------------------------------------===//
// Augmenter — one provider's metrics: fetches as they finish, freshness read at scrape time.
//===----------------------------------------------------------------------===//

public import AugmenterCore
import Foundation
import Prometheus
import Synchronization

/// One provider's series: its refresher reports each fetch here, and the gauges that follow from
/// its state and the time (usable, expiry, last success, consecutive failures) are read from
/// `ProviderState` at every scrape, so they say what `/status` says at that moment.
public final class ProviderMetrics: ProviderFetchObserver {
  private let state: ProviderState
  private let clock: any AugmenterClock
  private let fetches: [ProviderFetchResult: Counter]
  private let fetchDuration: DurationHistogram
  private let lastSuccess: Gauge
  private let headersExpiry: Gauge
  private let usable: Gauge
  private let consecutiveFailures: Gauge
  private let registry: MetricsRegistry
  /// The id of this provider's scrape-time collector (removed with the provider).
  private let collector: Mutex<Int?> = Mutex(nil)

  /// Makes the series of the provider of `state` in `registry` and reads its gauges at each
  /// scrape, on `clock`.
  public init(state: ProviderState, clock: any AugmenterClock, registry: MetricsRegistry) {
    let name = state.config.name
    self.state = state
    self.clock = clock
    var fetches: [ProviderFetchResult: Counter] = [:]
    for result in ProviderFetchResult.allCases {
      fetches[result] = registry.counter(MetricCatalog.providerFetches, [name, result.rawValue])
    }
    self.fetches = fetches
    self.fetchDuration = registry.durationHistogram(
      MetricCatalog.providerFetchDuration, [name], buckets: MetricCatalog.providerFetchDurationBuckets)
    self.lastSuccess = registry.gauge(MetricCatalog.providerLastSuccess, [name])
    self.headersExpiry = registry.gauge(MetricCatalog.providerHeadersExpiry, [name])
    self.usable = registry.gauge(MetricCatalog.providerUsable, [name])
    self.consecutiveFailures = registry.gauge(MetricCatalog.providerConsecutiveFailures, [name])
    self.registry = registry
    self.update()
    // Held by the registry from here on (it holds nothing back: no cycle), until `remove()`.
    let id = registry.addCollector { self.update() }
    self.collector.withLock { $0 = id }
  }

  /// Takes this provider's series out of the exposition (a reload removed the provider, or
  /// changed its settings and a new refresher, with new series, follows).
  public func remove() {
    if let id = self.collector.withLock({ $0 }) { self.registry.removeCollector(id) }
    for counter in self.fetches.values { self.registry.prometheus.unregisterCounter(counter) }
    self.registry.prometheus.unregisterDurationHistogram(self.fetchDuration)
    for gauge in [self.lastSuccess, self.headersExpiry, self.usable, self.consecutiveFailures] {
      self.registry.prometheus.unregisterGauge(gauge)
    }
  }

  public func fetchFinished(_ result: ProviderFetchResult, duration: Duration) {
    self.fetches[result]?.increment()
    self.fetchDuration.record(duration)
  }

  /// Sets the gauges from the provider's state now.
  func update() {
    let now = self.clock.now()
    let status = self.state.status(at: now)
    self.lastSuccess.set(to: status.lastSuccess?.timeIntervalSince1970 ?? 0)
    self.usable.set(to: status.usable ? 1 : 0)
    self.consecutiveFailures.set(to: Double(status.consecutiveFailures))
    if let snapshot = self.state.snapshot {
      let usableFor = snapshot.usableUntil - snapshot.fetchedAt
      let (seconds, attoseconds) = usableFor.components
      self.headersExpiry.set(to: snapshot.fetchedAtWall.timeIntervalSince1970 + Double(seconds) + Double(attoseconds) / 1e18)
    } else {
      self.headersExpiry.set(to: 0)
    }
  }
}
