//===----------------------------------------------------------------------===//
// Augmenter — a duration histogram recorded with atomics only (the check-duration one).
//===----------------------------------------------------------------------===//

import Synchronization

/// One series of a duration histogram whose `record` takes no lock and allocates nothing.
///
/// swift-prometheus' `Histogram` updates its buckets under a lock; a check may hold no lock
/// longer than a pointer copy (DESIGN.md), so the check-duration histogram counts into atomics
/// instead and renders itself in the Prometheus text format next to the registry's output.
/// Each bucket holds its own (non-cumulative) count, and `_count` is their sum, so a scrape that
/// races with records still shows cumulative buckets that never decrease and never exceed
/// `_count`.
public final class AtomicHistogram: @unchecked Sendable {
  // @unchecked: `counts` is allocated once in init, only touched through atomics, and freed in
  // deinit.
  /// `name{labels,` as rendered before each bucket's `le`.
  private let bucketPrefix: String
  /// `{labels}` (or empty) for the `_sum` and `_count` lines.
  private let labelBlock: String
  private let name: String
  private let bounds: [Int64]
  private let boundTexts: [String]
  /// `bounds.count + 1` counters: one per bucket, the last for observations over every bound.
  private let counts: UnsafeMutablePointer<Atomic<Int>>
  private let sumNanoseconds = Atomic<Int64>(0)

  /// A series of `declaration` with the label `values`, over `buckets` (ascending).
  init(_ declaration: MetricDeclaration, values: [String], buckets: [(nanoseconds: Int64, text: String)]) {
    let pairs = declaration.labelPairs(values).map { "\($0.0)=\"\($0.1)\"" }.joined(separator: ",")
    self.name = declaration.name
    self.bucketPrefix = "\(declaration.name)_bucket{" + (pairs.isEmpty ? "" : pairs + ",")
    self.labelBlock = pairs.isEmpty ? "" : "{\(pairs)}"
    self.bounds = buckets.map(\.nanoseconds)
    self.boundTexts = buckets.map(\.text)
    self.counts = .allocate(capacity: buckets.count + 1)
    for index in 0...buckets.count {
      (self.counts + index).initialize(to: Atomic(0))
    }
  }

  deinit {
    _ = (self.counts).deinitialize(count: self.bounds.count + 1)
    self.counts.deallocate()
  }

  /// Counts one observation of `nanoseconds`.
  public func record(nanoseconds: Int64) {
    var index = 0
    // Indexed: debug builds allocate in array iterators.
    while index < self.bounds.count && nanoseconds > self.bounds[index] {
      index += 1
    }
    self.counts[index].wrappingAdd(1, ordering: .relaxed)
    self.sumNanoseconds.wrappingAdd(max(0, nanoseconds), ordering: .relaxed)
  }

  /// Counts one observation of `duration`.
  public func record(_ duration: Duration) {
    let (seconds, attoseconds) = duration.components
    self.record(nanoseconds: seconds &* 1_000_000_000 &+ attoseconds / 1_000_000_000)
  }

  /// Appends the `_bucket`, `_sum` and `_count` lines of this series.
  func render(into text: inout String) {
    var cumulative = 0
    for index in 0..<self.bounds.count {
      cumulative += self.counts[index].load(ordering: .relaxed)
      text += "\(self.bucketPrefix)le=\"\(self.boundTexts[index])\"} \(cumulative)\n"
    }
    cumulative += self.counts[self.bounds.count].load(ordering: .relaxed)
    text += "\(self.bucketPrefix)le=\"+Inf\"} \(cumulative)\n"
    let sum = Double(self.sumNanoseconds.load(ordering: .relaxed)) / 1e9
    text += "\(self.name)_sum\(self.labelBlock) \(sum)\n"
    text += "\(self.name)_count\(self.labelBlock) \(cumulative)\n"
  }
}
