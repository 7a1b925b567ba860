// Reading the exposition back in tests: one series' value, the series of a metric.

import Foundation

/// The text of `/metrics`, read by series.
struct Exposition {
  let text: String

  /// The sample lines (no comments).
  var samples: [Substring] {
    text.split(separator: "\n").filter { !$0.hasPrefix("#") }
  }

  /// The value of the series written exactly as `series` (name and labels).
  func value(_ series: String) -> Double? {
    for line in samples where line.hasPrefix(series + " ") {
      return Double(line.dropFirst(series.count + 1))
    }
    return nil
  }

  /// Every series (name and labels) of the metric `name`.
  func series(of name: String) -> [String] {
    samples.compactMap { line in
      guard line.hasPrefix(name + "{") || line.hasPrefix(name + " ") else { return nil }
      return line.split(separator: " ").first.map(String.init)
    }
  }
}
