// The seam between the core and the network: the server implements `ProviderFetcher` with an
// HTTP client; tests implement it with scripts.

/// What a provider fetch returned.
public struct FetchedAnswer: Sendable, Hashable {
  /// The HTTP status code.
  public var status: Int
  /// The body, as received (the fetcher may stop reading past the provider's `maxAnswerBytes`).
  public var body: [UInt8]

  /// Creates an answer.
  public init(status: Int, body: [UInt8]) {
    self.status = status
    self.body = body
  }
}

/// Fetches a provider's answer (a GET of `provider.url` with its authority and bearer token).
public protocol ProviderFetcher: Sendable {
  /// Performs one fetch.
  ///
  /// Throws on connection errors and timeouts. Implementations should honour `provider.timeout`
  /// and task cancellation themselves; the refresher enforces the timeout too, so a fetcher that
  /// does not cannot stall refreshing.
  func fetch(_ provider: ProviderConfig) async throws -> FetchedAnswer
}
