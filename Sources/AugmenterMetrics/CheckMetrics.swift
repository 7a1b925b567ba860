//===----------------------------------------------------------------------===//
// Augmenter — counting one front's checks: by outcome and rule, and their duration.
//===----------------------------------------------------------------------===//

public import AugmenterCore
import Prometheus

/// Where a check came in.
public enum CheckFront: String, Sendable, Hashable, CaseIterable {
  /// gRPC ext_authz (`envoy.service.auth.v3.Authorization/Check`).
  case grpc
  /// HTTP-mode ext_authz, over HTTP/1.1 or HTTP/2.
  case http
  /// ext_proc (`envoy.service.ext_proc.v3.ExternalProcessor/Process`): the request phase's
  /// decision, one per stream that sends request headers.
  case extProc = "ext_proc"
}

extension DecisionOutcome.Kind {
  /// The `outcome` label value.
  public var label: String {
    switch self {
    case .allow: "allow"
    case .deny: "deny"
    case .redirect: "redirect"
    case .rateLimited: "rate_limited"
    case .unavailable: "unavailable"
    case .error: "error"
    }
  }
}

/// The check counters and duration histogram of one front, made once for every outcome the
/// configuration can give.
///
/// `record` is what a check pays: two reads of the monotonic clock, one array lookup, and two
/// relaxed atomic additions (counter, histogram bucket) and one more for the sum. No label is
/// built, no lock taken, nothing allocated: the allocation budget test runs with it.
public final class CheckMetrics: Sendable {
  private static let kindCount = DecisionOutcome.Kind.allCases.count

  /// The counter of `(source + 1) * kindCount + kind`: source -1 (no rule: errors) first, then
  /// one row per `DecisionOutcome.sources`; `nil` for a kind the source cannot give.
  private let counters: [Counter?]
  private let duration: AtomicHistogram

  /// Makes the series of `front` for `sources` (`Decider.outcomeSources`) in `registry`.
  public init(front: CheckFront, sources: [DecisionOutcome.Source], registry: MetricsRegistry) {
    var counters = [Counter?](repeating: nil, count: (sources.count + 1) * Self.kindCount)
    // An error has no deciding rule: its series has empty rule and profile labels.
    let rows = [DecisionOutcome.Source(rule: "", profile: "", kinds: [.error])] + sources
    for (row, source) in rows.enumerated() {
      for kind in source.kinds {
        counters[row * Self.kindCount + kind.rawValue] = registry.counter(
          MetricCatalog.checks, [front.rawValue, kind.label, source.rule, source.profile])
      }
    }
    self.counters = counters
    self.duration = registry.atomicHistogram(
      MetricCatalog.checkDuration, [front.rawValue], buckets: MetricCatalog.checkDurationBuckets)
  }

  /// A start time for `record`.
  @inlinable
  public static func start() -> ContinuousClock.Instant {
    ContinuousClock.now
  }

  /// Takes out of `registry`'s exposition the counters of this front that `replacement` (the
  /// series of a reloaded configuration) does not have: those of rules the reload removed or
  /// renamed. The counters both have are the same objects (one per label set), so they stay.
  public func removeSeries(missingFrom replacement: CheckMetrics, in registry: MetricsRegistry) {
    for case let counter? in self.counters where !replacement.counters.contains(where: { $0 === counter }) {
      registry.prometheus.unregisterCounter(counter)
    }
  }

  /// Counts one check that began at `started` and ended now with `outcome`.
  public func record(_ outcome: DecisionOutcome, started: ContinuousClock.Instant) {
    self.duration.record(ContinuousClock.now - started)
    let index = (outcome.source + 1) * Self.kindCount + outcome.kind.rawValue
    guard outcome.source >= DecisionOutcome.noSource, index < self.counters.count else { return }
    self.counters[index]?.increment()
  }
}
