// What a refresher tells about each fetch it made, for metrics: the result and how long it took.

/// The result of one provider fetch, as counted.
public enum ProviderFetchResult: String, Sendable, Hashable, CaseIterable {
  /// A valid answer was published.
  case ok
  /// An HTTP 200 answer broke a rule (`ProviderAnswerValidator`).
  case rejected
  /// The provider answered with a status other than 200.
  case httpError = "http_error"
  /// No answer within the provider's `timeout`.
  case timeout
  /// The fetch failed before an answer: connection, TLS, token file, reading the body.
  case connectError = "connect_error"
}

/// Told about every fetch a `ProviderRefresher` finishes (a cancelled one is not counted).
///
/// A protocol rather than a metrics library in the core: AugmenterCore stays free of anything
/// but swift-log and Yams (its sanitizer builds stay small), the results stay a closed enum
/// instead of label strings, and the metric names and labels are declared in one place, the
/// `AugmenterMetrics` module, which implements this. Called from the refresher, off the request
/// path.
public protocol ProviderFetchObserver: Sendable {
  /// One fetch of the provider finished with `result` after `duration`.
  func fetchFinished(_ result: ProviderFetchResult, duration: Duration)
}

/// An error a fetcher throws that knows how it is counted (its own timeout is `timeout`, a
/// refused redirect `http_error`); any other error thrown by a fetch counts as `connect_error`.
public protocol ProviderFetchFailureClassifying: Error {
  /// The result this failure is counted as.
  var fetchResult: ProviderFetchResult { get }
}
