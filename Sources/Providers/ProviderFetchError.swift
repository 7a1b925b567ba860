//===----------------------------------------------------------------------===//
// Augmenter — why a provider fetch failed, in words fit for the log and /status.
//===----------------------------------------------------------------------===//

public import AugmenterCore

/// A fetch that failed before there was an answer to validate.
///
/// The description never holds a header value, token or secret: it goes to logs and `/status`.
public struct ProviderFetchError: ProviderFetchFailureClassifying, CustomStringConvertible {
  /// What went wrong.
  public var description: String
  /// How the failure is counted in the metrics (`augmenter_provider_fetches_total{result}`).
  public var fetchResult: ProviderFetchResult

  /// Creates an error saying `description`, counted as `fetchResult`.
  public init(description: String, fetchResult: ProviderFetchResult = .connectError) {
    self.description = description
    self.fetchResult = fetchResult
  }
}
