//===----------------------------------------------------------------------===//
// Augmenter — the rate-limit rules' tables: keys held and keys evicted, read at scrape time.
//===----------------------------------------------------------------------===//

public import AugmenterCore
import Prometheus
import Synchronization

/// The series of every `rate_limit` rule of a decider, brought up to date at each scrape from
/// the limiters themselves (a check pays nothing for them).
public final class RateLimitMetrics: Sendable {
  private struct Rule: Sendable {
    let limiter: RateLimiter
    let keys: Gauge
    let evicted: Counter
  }

  private let rules: [Rule]
  private let clock: any AugmenterClock
  /// The eviction count each counter last showed, so a scrape adds only what is new.
  private let shown: Mutex<[Int]>
  private let registry: MetricsRegistry
  /// The id of the scrape-time collector (removed when a reload replaces these series).
  private let collector: Mutex<Int?> = Mutex(nil)

  /// Makes the series of `decider`'s rate-limit rules in `registry`, read on `clock` at scrapes.
  /// After a reload, `previous` are the series of the decider replaced: a limiter carried over
  /// keeps the eviction count its counter already shows (so nothing is counted twice), and
  /// `previous` stops being collected.
  public init(decider: Decider, clock: any AugmenterClock, registry: MetricsRegistry, previous: RateLimitMetrics? = nil) {
    let rules = decider.rateLimiters.map { entry in
      let rule = decider.outcomeSources[entry.rule].rule
      return Rule(
        limiter: entry.limiter, keys: registry.gauge(MetricCatalog.rateLimitKeys, [rule]),
        evicted: registry.counter(MetricCatalog.rateLimitKeysEvicted, [rule]))
    }
    var shown = [Int](repeating: 0, count: rules.count)
    if let previous {
      if let id = previous.collector.withLock({ $0 }) { registry.removeCollector(id) }
      let previousShown = previous.shown.withLock { $0 }
      for index in rules.indices {
        if let old = previous.rules.indices.first(where: { previous.rules[$0].limiter === rules[index].limiter }) {
          shown[index] = previousShown[old]
        }
      }
      // A rule gone from the configuration takes its series along (a rule that stays has the
      // same series: the registry hands out one per label set).
      for old in previous.rules where !rules.contains(where: { $0.keys === old.keys }) {
        registry.prometheus.unregisterGauge(old.keys)
        registry.prometheus.unregisterCounter(old.evicted)
      }
    }
    self.rules = rules
    self.clock = clock
    self.registry = registry
    self.shown = Mutex(shown)
    // Held by the registry from here on (it holds nothing back: no cycle).
    let id = registry.addCollector { self.update() }
    self.collector.withLock { $0 = id }
  }

  /// Sets the gauges and counters from the limiters now.
  func update() {
    let now = self.clock.now()
    self.shown.withLock { shown in
      for index in self.rules.indices {
        let rule = self.rules[index]
        rule.keys.set(to: Double(rule.limiter.activeKeys(at: now)))
        let evictions = rule.limiter.evictions
        if evictions > shown[index] {
          rule.evicted.increment(by: Int64(evictions - shown[index]))
          shown[index] = evictions
        }
      }
    }
  }
}
