//===----------------------------------------------------------------------===//
// Augmenter — why a provider fetch failed, in words fit for the log and /status.
//===----------------------------------------------------------------------===//

/// A fetch that failed before there was an answer to validate.
///
/// The description never holds a header value, token or secret: it goes to logs and `/status`.
public struct ProviderFetchError: Error, CustomStringConvertible {
  /// What went wrong.
  public var description: String

  /// Creates an error saying `description`.
  public init(description: String) {
    self.description = description
  }
}
