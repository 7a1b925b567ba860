//===----------------------------------------------------------------------===//
// Augmenter — the process's metrics: swift-prometheus' registry plus what is read at scrape.
//===----------------------------------------------------------------------===//

public import AugmenterCore
public import Foundation
public import Prometheus
import Synchronization

/// All of Augmenter's metrics and their exposition for `GET /metrics`.
///
/// Counters and gauges live in swift-prometheus' `PrometheusCollectorRegistry` (its counters are
/// atomics). The check-duration histogram is an `AtomicHistogram`, rendered after them. Values
/// that follow from state and time (a provider's `usable`, say) are computed at scrape time by
/// collectors, so they are always what `/status` would say at that moment.
///
/// Handles are made when the server is wired, once per label set the configuration allows;
/// a check only increments handles it already holds.
public final class MetricsRegistry: Sendable {
  /// The swift-prometheus registry holding the counters and gauges.
  public let prometheus = PrometheusCollectorRegistry()
  /// The atomic histograms, by metric (one `# HELP`/`# TYPE` per name, in registration order).
  private let histograms = Mutex<[(MetricDeclaration, [(values: [String], series: AtomicHistogram)])]>([])
  /// Run before each exposition to bring scrape-time gauges up to date, by the id `addCollector`
  /// returned (a reload removes those of the providers and rules it drops).
  private let collectors = Mutex<(next: Int, entries: [(id: Int, collect: @Sendable () -> Void)])>((0, []))

  /// A registry with the build-info gauge of `version`.
  public init(version: String = AugmenterVersion.current) {
    self.gauge(MetricCatalog.buildInfo, [version]).set(to: 1)
  }

  /// Records that a configuration was loaded and put in force at `date` (at startup, and on
  /// each successful reload).
  public func configurationLoaded(at date: Date) {
    self.gauge(MetricCatalog.configLastReloadSuccessful, []).set(to: 1)
    self.gauge(MetricCatalog.configLastReloadSuccessTimestamp, []).set(to: date.timeIntervalSince1970)
  }

  /// Records that a reload failed: the configuration in force stays, and so does the timestamp
  /// of its load.
  public func configurationReloadFailed() {
    self.gauge(MetricCatalog.configLastReloadSuccessful, []).set(to: 0)
  }

  /// The counter of `declaration` with the label `values` (one per label, in order).
  public func counter(_ declaration: MetricDeclaration, _ values: [String]) -> Counter {
    precondition(declaration.kind == .counter, "\(declaration.name) is not a counter")
    return self.prometheus.makeCounter(
      name: declaration.name, labels: declaration.labelPairs(values), help: declaration.help)
  }

  /// The gauge of `declaration` with the label `values`.
  public func gauge(_ declaration: MetricDeclaration, _ values: [String]) -> Gauge {
    precondition(declaration.kind == .gauge, "\(declaration.name) is not a gauge")
    return self.prometheus.makeGauge(name: declaration.name, labels: declaration.labelPairs(values), help: declaration.help)
  }

  /// A swift-prometheus duration histogram of `declaration` (off the request path only: it
  /// records under a lock).
  public func durationHistogram(_ declaration: MetricDeclaration, _ values: [String], buckets: [Duration]) -> DurationHistogram {
    precondition(declaration.kind == .histogram, "\(declaration.name) is not a histogram")
    return self.prometheus.makeDurationHistogram(
      name: declaration.name, labels: declaration.labelPairs(values), buckets: buckets, help: declaration.help)
  }

  /// A lock-free histogram series of `declaration` with the label `values` (for the request
  /// path); asked again for the same values (after a reload), the same series.
  public func atomicHistogram(
    _ declaration: MetricDeclaration, _ values: [String], buckets: [(nanoseconds: Int64, text: String)]
  ) -> AtomicHistogram {
    precondition(declaration.kind == .histogram, "\(declaration.name) is not a histogram")
    return self.histograms.withLock { families in
      guard let index = families.firstIndex(where: { $0.0.name == declaration.name }) else {
        let histogram = AtomicHistogram(declaration, values: values, buckets: buckets)
        families.append((declaration, [(values, histogram)]))
        return histogram
      }
      if let existing = families[index].1.first(where: { $0.values == values }) {
        return existing.series
      }
      let histogram = AtomicHistogram(declaration, values: values, buckets: buckets)
      families[index].1.append((values, histogram))
      return histogram
    }
  }

  /// Adds `collect`, run before every exposition (it sets gauges from current state); returns
  /// the id `removeCollector` takes.
  @discardableResult
  public func addCollector(_ collect: @escaping @Sendable () -> Void) -> Int {
    self.collectors.withLock { collectors in
      collectors.next += 1
      collectors.entries.append((collectors.next, collect))
      return collectors.next
    }
  }

  /// Stops running the collector `id` (its provider or rule left the configuration).
  public func removeCollector(_ id: Int) {
    self.collectors.withLock { $0.entries.removeAll { $0.id == id } }
  }

  /// The exposition, in the Prometheus text format (version 0.0.4).
  public func exposition() -> String {
    for entry in self.collectors.withLock({ $0.entries }) {
      entry.collect()
    }
    var text = String(decoding: self.prometheus.emitToBuffer(), as: UTF8.self)
    for (declaration, series) in self.histograms.withLock({ $0 }) {
      text += "# HELP \(declaration.name) \(declaration.help)\n# TYPE \(declaration.name) histogram\n"
      for (_, histogram) in series {
        histogram.render(into: &text)
      }
    }
    return text
  }

  /// The `content-type` of `exposition()`.
  public static let contentType = "text/plain; version=0.0.4; charset=utf-8"
}
