// One provider entry of the configuration.

/// A header provider: an HTTP endpoint answering a JSON object of header names to string values.
public struct ProviderConfig: Sendable, Hashable {
  /// Unique name, `[a-z0-9_-]+`; used in logs, metrics and `/status`.
  public var name: String
  /// The `http://` or `https://` URL fetched with GET.
  public var url: String
  /// The `Host` / `:authority` presented to the provider, when it differs from the URL's.
  public var authority: String?
  /// How long fetched headers stay fresh (default 360s).
  public var ttl: Duration
  /// How long one fetch may take (default 2s); must be less than `ttl`.
  public var timeout: Duration
  /// How long past `ttl` the last good headers may still be served (default 0s).
  public var maxStale: Duration
  /// A file holding a bearer token, re-read on every fetch (key `token_file`).
  public var tokenFile: String?
  /// Whether readiness and `on_unavailable` consider this provider (default true).
  public var required: Bool
  /// The largest answer body accepted, in bytes (key `max_answer_bytes`, default 65536).
  public var maxAnswerBytes: Int
  /// The action for this provider's headers, by lower-case name; the key `*` covers every other
  /// name (key `header_actions`; default `set` for all). `remove` is not allowed here.
  public var headerActions: [String: HeaderAction]
  /// TLS settings for an `https://` URL (key `tls`): a private CA, a client certificate.
  public var tls: ProviderTLSConfig?
  /// Whether a 3xx answer is followed (key `follow_redirects`, default `never`). A redirect to
  /// another origin is never followed: that origin's headers would be injected.
  public var followRedirects: RedirectPolicy

  /// The default `ttl`, 360s: the seed filter's `header_cache_expiry` default.
  public static let defaultTTL: Duration = .seconds(360)
  /// The default `timeout`, 2s.
  public static let defaultTimeout: Duration = .seconds(2)
  /// The default `max_answer_bytes`, 64 KiB.
  public static let defaultMaxAnswerBytes = 65536

  /// Creates a provider; every optional setting has its documented default.
  public init(
    name: String,
    url: String,
    authority: String? = nil,
    ttl: Duration = ProviderConfig.defaultTTL,
    timeout: Duration = ProviderConfig.defaultTimeout,
    maxStale: Duration = .zero,
    tokenFile: String? = nil,
    required: Bool = true,
    maxAnswerBytes: Int = ProviderConfig.defaultMaxAnswerBytes,
    headerActions: [String: HeaderAction] = [:],
    tls: ProviderTLSConfig? = nil,
    followRedirects: RedirectPolicy = .never
  ) {
    self.name = name
    self.url = url
    self.authority = authority
    self.ttl = ttl
    self.timeout = timeout
    self.maxStale = maxStale
    self.tokenFile = tokenFile
    self.required = required
    self.maxAnswerBytes = maxAnswerBytes
    self.headerActions = headerActions
    self.tls = tls
    self.followRedirects = followRedirects
  }

  /// The action for header `name` of this provider.
  public func action(for name: String) -> HeaderAction {
    headerActions[name] ?? headerActions["*"] ?? .set
  }
}
