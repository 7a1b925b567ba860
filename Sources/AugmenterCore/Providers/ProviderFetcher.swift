// The seam between the core and the network: the server implements `ProviderFetcher` with an
// HTTP client; tests implement it with scripts.

/// What a provider fetch returned.
public struct FetchedAnswer: Sendable, Hashable {
  /// The HTTP status code.
  public var status: Int
  /// The body, as received (the fetcher may stop reading past the provider's `maxAnswerBytes`).
  public var body: [UInt8]
  /// How long the values stay valid, as the source said (a token endpoint's `expires_in`): a hard
  /// limit, like a JWT's `exp`, that `max_stale` never extends.
  public var expiresIn: Duration?
  /// How long the answer stays fresh by its HTTP caching headers (`HTTPCacheLifetime`): a limit
  /// like `ttl`, which `max_stale` may extend.
  public var cacheLifetime: Duration?

  /// Creates an answer.
  public init(status: Int, body: [UInt8], expiresIn: Duration? = nil, cacheLifetime: Duration? = nil) {
    self.status = status
    self.body = body
    self.expiresIn = expiresIn
    self.cacheLifetime = cacheLifetime
  }
}

/// Fetches a provider's answer (a GET of `provider.url` with its authority and bearer token, a
/// token request, files read).
public protocol ProviderFetcher: Sendable {
  /// Performs one fetch.
  ///
  /// Throws on connection errors and timeouts; throws a `ProviderAnswerError` for an answer that
  /// arrived but is refused (the refresher records it as a rejection). Implementations should
  /// honour `provider.timeout` and task cancellation themselves; the refresher enforces the
  /// timeout too, so a fetcher that does not cannot stall refreshing.
  func fetch(_ provider: ProviderConfig) async throws -> FetchedAnswer

  /// A cheap fingerprint of the provider's source that changes when a fetch could return
  /// something new (files: identity, size and modification time), or `nil` when the kind cannot
  /// tell. The refresher compares it every `watch_interval` and refreshes at once on a change.
  func sourceSignature(_ provider: ProviderConfig) -> String?
}

extension ProviderFetcher {
  /// No fingerprint: the source is only re-read on schedule.
  public func sourceSignature(_ provider: ProviderConfig) -> String? { nil }
}
