// One provider entry of the configuration.

/// A header provider: by default an HTTP endpoint answering a JSON object of header names to
/// string values; `kind` selects files or an OAuth 2.0 token endpoint instead.
public struct ProviderConfig: Sendable, Hashable {
  /// Unique name, `[a-z0-9_-]+`; used in logs, metrics and `/status`.
  public var name: String
  /// Where the headers come from (default `http`).
  public var kind: ProviderKind
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
  /// How long before a value's own expiry (a token endpoint's `expires_in`, a JWT's `exp`) it
  /// stops being served (key `expiry_skew`, default 30s): covers clocks that differ and the time
  /// a request takes to reach the upstream.
  public var expirySkew: Duration

  /// `file`: the headers and the files their values are read from (key `files`).
  public var files: [ProviderFile]
  /// `file`: how often the files are checked for a change (key `watch_interval`, default 1s).
  public var watchInterval: Duration

  // The keys below, down to `format`, are shared by both OAuth 2.0 kinds
  // (`oauth2_client_credentials` and `token_exchange`).

  /// `oauth2_client_credentials`, `token_exchange`: the token endpoint (key `token_url`).
  public var tokenURL: String?
  /// `oauth2_client_credentials`, `token_exchange`: the client identifier (key `client_id`).
  public var clientID: String?
  /// `oauth2_client_credentials`, `token_exchange`: the file holding the client secret, re-read on every fetch so
  /// a rotated secret is picked up (key `client_secret_file`).
  public var clientSecretFile: String?
  /// `oauth2_client_credentials`, `token_exchange`: how the client authenticates (key `client_auth`).
  public var clientAuth: OAuth2ClientAuthMethod
  /// `private_key_jwt`: the PEM private key the assertion is signed with, re-read on every
  /// fetch (key `private_key_file`).
  public var privateKeyFile: String?
  /// `private_key_jwt`: the signature algorithm (key `signing_alg`, default RS256).
  public var signingAlgorithm: JWTSigningAlgorithm
  /// `private_key_jwt`: the `kid` header, when the server needs it to pick the key (key `key_id`).
  public var keyID: String?
  /// `oauth2_client_credentials`, `token_exchange`: the `scope` parameter, space-separated (key `scope`).
  public var scope: String?
  /// `oauth2_client_credentials`, `token_exchange`: the `audience` parameter (key `audience`).
  public var audience: String?
  /// `oauth2_client_credentials`, `token_exchange`: the `resource` parameter, RFC 8707 (key `resource`).
  public var resource: String?
  /// `oauth2_client_credentials`, `token_exchange`: the header the access token goes into (key `header`).
  public var header: String
  /// `oauth2_client_credentials`, `token_exchange`: its value, `{}` standing for the access token (key `format`).
  public var format: String
  /// `oauth2_client_credentials`, `token_exchange`: the `token_type` the answer must carry,
  /// compared case-insensitively (key `token_type`, default `Bearer`; RFC 8693 §2.2.1 answers
  /// `N_A` for a token that is not an access token).
  public var tokenType: String

  /// `token_exchange`: the file holding the subject token, re-read on every fetch so a token the
  /// kubelet rotated is sent from the next refresh on (key `subject_token_file`).
  public var subjectTokenFile: String?
  /// `token_exchange`: what the subject token is (key `subject_token_type`, default
  /// `urn:ietf:params:oauth:token-type:jwt`).
  public var subjectTokenType: String
  /// `token_exchange`: the type of token asked for, when the server should not choose (key
  /// `requested_token_type`).
  public var requestedTokenType: String?

  /// The default `ttl`, 360s: the seed filter's `header_cache_expiry` default.
  public static let defaultTTL: Duration = .seconds(360)
  /// The default `timeout`, 2s.
  public static let defaultTimeout: Duration = .seconds(2)
  /// The default `max_answer_bytes`, 64 KiB.
  public static let defaultMaxAnswerBytes = 65536
  /// The default `expiry_skew`, 30s.
  public static let defaultExpirySkew: Duration = .seconds(30)
  /// The default `subject_token_type`: a JWT, such as a Kubernetes service-account token.
  public static let defaultSubjectTokenType = "urn:ietf:params:oauth:token-type:jwt"
  /// The default `watch_interval`, 1s.
  public static let defaultWatchInterval: Duration = .seconds(1)

  /// Creates a provider; every optional setting has its documented default.
  public init(
    name: String,
    kind: ProviderKind = .http,
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
    followRedirects: RedirectPolicy = .never,
    expirySkew: Duration = ProviderConfig.defaultExpirySkew,
    files: [ProviderFile] = [],
    watchInterval: Duration = ProviderConfig.defaultWatchInterval,
    tokenURL: String? = nil,
    clientID: String? = nil,
    clientSecretFile: String? = nil,
    clientAuth: OAuth2ClientAuthMethod = .clientSecretBasic,
    privateKeyFile: String? = nil,
    signingAlgorithm: JWTSigningAlgorithm = .rs256,
    keyID: String? = nil,
    scope: String? = nil,
    audience: String? = nil,
    resource: String? = nil,
    header: String = "authorization",
    format: String = "Bearer {}",
    tokenType: String = "Bearer",
    subjectTokenFile: String? = nil,
    subjectTokenType: String = ProviderConfig.defaultSubjectTokenType,
    requestedTokenType: String? = nil
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
    self.expirySkew = expirySkew
    self.kind = kind
    self.files = files
    self.watchInterval = watchInterval
    self.tokenURL = tokenURL
    self.clientID = clientID
    self.clientSecretFile = clientSecretFile
    self.clientAuth = clientAuth
    self.privateKeyFile = privateKeyFile
    self.signingAlgorithm = signingAlgorithm
    self.keyID = keyID
    self.scope = scope
    self.audience = audience
    self.resource = resource
    self.header = header
    self.format = format
    self.tokenType = tokenType
    self.subjectTokenFile = subjectTokenFile
    self.subjectTokenType = subjectTokenType
    self.requestedTokenType = requestedTokenType
  }

  /// The URL the provider's answers come from, for logs and `/status`: `url`, `token_url`, or
  /// `file://` and the first file.
  public var sourceURL: String {
    switch kind {
    case .http: url
    case .oauth2ClientCredentials, .tokenExchange: tokenURL ?? ""
    case .file: files.first.map { "file://\($0.path)" } ?? ""
    }
  }

  /// The action for header `name` of this provider.
  public func action(for name: String) -> HeaderAction {
    headerActions[name] ?? headerActions["*"] ?? .set
  }
}
