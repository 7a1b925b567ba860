// The whole configuration, as validated by `ConfigLoader`.

/// What a check gets when a required provider has no usable headers.
public enum UnavailablePolicy: String, Sendable, Hashable, CaseIterable {
  /// Forward the request with whatever headers are usable.
  case allow
  /// Answer 503 locally (fail closed).
  case deny
}

/// How log lines are written (key `log_format`).
public enum LogFormat: String, Sendable, Hashable, CaseIterable {
  /// swift-log's text lines.
  case text
  /// One JSON object per line: time, level, message, label, source, metadata.
  case json
}

/// Whether a provider fetch follows an HTTP redirect (key `providers[].follow_redirects`).
public enum RedirectPolicy: String, Sendable, Hashable, CaseIterable {
  /// A 3xx answer is a failed fetch (the default): the provider must answer itself.
  case never
  /// Follow redirects to the same scheme, host and port only; any other 3xx is a failed fetch.
  case sameOrigin = "same_origin"
}

/// The service configuration (DESIGN.md, "Stable interface").
///
/// Each default is stated once, as the initializer's argument; `docs/configuration.md` (generated
/// from the key tables) lists them with every key.
public struct AugmenterConfig: Sendable, Hashable {
  /// Where checks are served (key `listen`).
  public var listen: ListenAddress
  /// Where the admin endpoints are served (key `admin_listen`).
  public var adminListen: ListenAddress
  /// The header providers, in configuration order.
  public var providers: [ProviderConfig]
  /// Static headers added on every allow, in file order, names lower-cased (key `headers`).
  public var headers: [HeaderField]
  /// What a check gets when a required provider is unusable (key `on_unavailable`).
  public var onUnavailable: UnavailablePolicy
  /// The largest gRPC message accepted (key `grpc.max_message_bytes`).
  public var grpcMaxMessageBytes: Int
  /// HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS (key `http2.max_concurrent_streams`).
  public var http2MaxConcurrentStreams: Int
  /// HTTP/2 SETTINGS_INITIAL_WINDOW_SIZE (key `http2.initial_window_size`).
  public var http2InitialWindowSize: Int
  /// How long in-flight checks may take to finish on shutdown (key `shutdown_grace_period`, 10s).
  public var shutdownGracePeriod: Duration
  /// An HTTP/1.1 connection silent this long is closed, e.g. a client that sent half a request
  /// and stopped (key `idle_timeout`). HTTP/2 connections have `http2IdleTimeout`.
  public var idleTimeout: Duration
  /// Connections each listener (check, admin) holds at most; past it, new connections wait in
  /// the kernel's backlog until one closes (key `max_connections`).
  public var maxConnections: Int
  /// After SIGTERM, how long the listeners keep accepting and answering while readiness and
  /// gRPC health already report NOT_SERVING, so health checks and endpoint removal move traffic
  /// away before any connection gets GOAWAY (key `drain_delay`).
  public var drainDelay: Duration
  /// How long an HTTP/1.1 request head may take from its first byte to its last (key
  /// `http1.request_head_timeout`): a client sending its head byte by byte is closed.
  public var http1RequestHeadTimeout: Duration
  /// How long the rest of an HTTP/1.1 request body may take once its head arrived (key
  /// `http1.request_body_timeout`).
  public var http1RequestBodyTimeout: Duration
  /// HTTP/1.1 requests received but not yet answered on one connection (pipelining); past it the
  /// connection stops reading until answers leave (key `http1.max_pipelined_requests`).
  public var http1MaxPipelinedRequests: Int
  /// An HTTP/2 connection with no open stream and no frame received for this long is closed with
  /// GOAWAY (key `http2.idle_timeout`).
  public var http2IdleTimeout: Duration
  /// Control frames (SETTINGS and PING acknowledgements, RST_STREAM) queued for a peer that does
  /// not read them; past it the connection gets GOAWAY ENHANCE_YOUR_CALM and is closed (key
  /// `http2.max_outbound_control_frames`, as Envoy's `max_outbound_control_frames`).
  public var http2MaxOutboundControlFrames: Int
  /// Request bytes buffered across all open streams of one HTTP/2 connection (key
  /// `http2.max_buffered_request_bytes`); at least `grpc.max_message_bytes` + 5.
  public var http2MaxBufferedRequestBytes: Int
  /// The largest HTTP/1.1 request body an HTTP-mode check accepts; a larger one gets 413 and the
  /// connection closes (key `http1.max_request_body_bytes`; unset: `grpc.max_message_bytes`).
  /// `http1RequestBodyLimit` is the value in force.
  public var http1MaxRequestBodyBytes: Int?
  /// The largest HTTP/2 request body buffered per stream; a larger one is refused (gRPC:
  /// RESOURCE_EXHAUSTED, HTTP mode: 413) (key `http2.max_request_body_bytes`; unset:
  /// `grpc.max_message_bytes` + 5, one largest message and its prefix). `http2RequestBodyLimit`
  /// is the value in force.
  public var http2MaxRequestBodyBytes: Int?
  /// The swift-log level name: trace, debug, info, notice, warning, error, critical.
  public var logLevel: String
  /// How log lines are written (key `log_format`).
  public var logFormat: LogFormat = .text
  /// TLS on the check port (key `tls`); `nil`: plaintext (h2c and HTTP/1.1).
  public var tls: ListenerTLSConfig?
  /// TLS on the admin port (key `admin_tls`); `nil`: plaintext.
  public var adminTLS: ListenerTLSConfig?

  // MARK: Policy (README "Recipes")

  /// Top-level headers written as mappings (`{template: ...}`, `{value: ..., action: ...}`,
  /// `{action: remove}`); plain `name: value` entries stay in `headers`. Both apply on every allow.
  public var headerRules: [HeaderRule]
  /// Where the client address comes from (key `client_address`).
  public var clientAddress: ClientAddressSource
  /// Named provider and header sets rules select (key `profiles`).
  public var profiles: [ProfileConfig]
  /// Ordered rules; the first matching rule decides (rate limits pass on what they let through).
  public var rules: [PolicyRule]
  /// What a request matching no rule gets (key `default`); `nil`: allow, as without rules.
  public var defaultOutcome: RuleOutcome?
  /// `type` and `title` of the problem documents, by status (key `problem_types`).
  public var problemTypes: [Int: ProblemType]
  /// A prefix Envoy's HTTP-mode `path_prefix` puts before the original path, stripped before
  /// rules and templates see the path (key `http_mode.path_prefix`).
  public var httpModePathPrefix: String?
  /// Upstream error responses the ext_proc front rewrites into problem+json (key `error_responses`).
  public var errorResponses: ErrorResponses

  /// The accepted `log_level` values, least severe first.
  public static let logLevels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]

  /// Creates a configuration; every argument defaults to the built-in default.
  public init(
    listen: ListenAddress = ListenAddress(host: "0.0.0.0", port: 9191),
    adminListen: ListenAddress = ListenAddress(host: "0.0.0.0", port: 9901),
    providers: [ProviderConfig] = [],
    headers: [HeaderField] = [],
    onUnavailable: UnavailablePolicy = .deny,
    grpcMaxMessageBytes: Int = 4 * 1024 * 1024,
    http2MaxConcurrentStreams: Int = 1024,
    http2InitialWindowSize: Int = 1_048_576,
    shutdownGracePeriod: Duration = .seconds(10),
    idleTimeout: Duration = .seconds(60),
    maxConnections: Int = 4096,
    drainDelay: Duration = .seconds(5),
    http1RequestHeadTimeout: Duration = .seconds(10),
    http1RequestBodyTimeout: Duration = .seconds(30),
    http1MaxPipelinedRequests: Int = 16,
    http2IdleTimeout: Duration = .seconds(3600),
    http2MaxOutboundControlFrames: Int = 1000,
    http2MaxBufferedRequestBytes: Int = 8 << 20,
    http1MaxRequestBodyBytes: Int? = nil,
    http2MaxRequestBodyBytes: Int? = nil,
    logLevel: String = "info",
    tls: ListenerTLSConfig? = nil,
    adminTLS: ListenerTLSConfig? = nil,
    headerRules: [HeaderRule] = [],
    clientAddress: ClientAddressSource = .peer,
    profiles: [ProfileConfig] = [],
    rules: [PolicyRule] = [],
    defaultOutcome: RuleOutcome? = nil,
    problemTypes: [Int: ProblemType] = [:],
    httpModePathPrefix: String? = nil,
    errorResponses: ErrorResponses = ErrorResponses()
  ) {
    self.listen = listen
    self.adminListen = adminListen
    self.providers = providers
    self.headers = headers
    self.onUnavailable = onUnavailable
    self.grpcMaxMessageBytes = grpcMaxMessageBytes
    self.http2MaxConcurrentStreams = http2MaxConcurrentStreams
    self.http2InitialWindowSize = http2InitialWindowSize
    self.shutdownGracePeriod = shutdownGracePeriod
    self.idleTimeout = idleTimeout
    self.maxConnections = maxConnections
    self.drainDelay = drainDelay
    self.http1RequestHeadTimeout = http1RequestHeadTimeout
    self.http1RequestBodyTimeout = http1RequestBodyTimeout
    self.http1MaxPipelinedRequests = http1MaxPipelinedRequests
    self.http2IdleTimeout = http2IdleTimeout
    self.http2MaxOutboundControlFrames = http2MaxOutboundControlFrames
    self.http2MaxBufferedRequestBytes = http2MaxBufferedRequestBytes
    self.http1MaxRequestBodyBytes = http1MaxRequestBodyBytes
    self.http2MaxRequestBodyBytes = http2MaxRequestBodyBytes
    self.logLevel = logLevel
    self.tls = tls
    self.adminTLS = adminTLS
    self.headerRules = headerRules
    self.clientAddress = clientAddress
    self.profiles = profiles
    self.rules = rules
    self.defaultOutcome = defaultOutcome
    self.problemTypes = problemTypes
    self.httpModePathPrefix = httpModePathPrefix
    self.errorResponses = errorResponses
  }

  /// The HTTP/1.1 request body limit in force (`http1.max_request_body_bytes`, or its default).
  public var http1RequestBodyLimit: Int { self.http1MaxRequestBodyBytes ?? self.grpcMaxMessageBytes }

  /// The HTTP/2 per-stream request body limit in force (`http2.max_request_body_bytes`, or its
  /// default).
  public var http2RequestBodyLimit: Int { self.http2MaxRequestBodyBytes ?? self.grpcMaxMessageBytes + 5 }

  /// Whether the configuration uses no policy feature, so checks take the original path:
  /// every usable provider's headers and the static headers, all `set`.
  public var isPolicyFree: Bool {
    headerRules.isEmpty && rules.isEmpty && defaultOutcome == nil
      && providers.allSatisfy { $0.headerActions.isEmpty }
  }

  /// The built-in defaults (what `serve` runs on without a file and without environment).
  public static var defaults: AugmenterConfig { AugmenterConfig() }
}
