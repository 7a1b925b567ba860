//===----------------------------------------------------------------------===//
// Augmenter — what a metric is: its name, type, help and label names.
//===----------------------------------------------------------------------===//

/// One metric: the single place its name, type, help text and label names are written.
///
/// Every metric Augmenter exports is one of `MetricCatalog.all`; the code that records a metric
/// takes these fields from its declaration, never spells a name itself.
public struct MetricDeclaration: Sendable, Hashable {
  /// The Prometheus type, as written on the `# TYPE` line.
  public enum Kind: String, Sendable, Hashable {
    /// Only goes up (its name ends in `_total`).
    case counter
    /// A value read as it is.
    case gauge
    /// Observations counted into buckets (`_bucket`, `_sum`, `_count`).
    case histogram
  }

  /// The metric name (`augmenter_` prefix, unit suffix, `_total` for counters).
  public var name: String
  /// The Prometheus type.
  public var kind: Kind
  /// The `# HELP` text.
  public var help: String
  /// The label names, each with a value from a bounded set (never a header value, path or
  /// client address).
  public var labels: [String]

  /// Declares a metric.
  public init(_ name: String, _ kind: Kind, help: String, labels: [String] = []) {
    self.name = name
    self.kind = kind
    self.help = help
    self.labels = labels
  }

  /// The label pairs of one series, in declaration order; `values` must match `labels`.
  func labelPairs(_ values: [String]) -> [(String, String)] {
    precondition(values.count == labels.count, "\(name) takes labels \(labels), given \(values)")
    return Array(zip(labels, values))
  }
}
