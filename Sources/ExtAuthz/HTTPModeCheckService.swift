//===----------------------------------------------------------------------===//
// Augmenter — HTTP-mode ext_authz: any non-gRPC request on the check port is a check.
//===----------------------------------------------------------------------===//

public import AugmenterCore
public import AugmenterMetrics
public import HTTP2
public import NIOCore

/// Envoy's HTTP ext_authz service sends the original method, `path_prefix` + the original path
/// and the original authority; it allows on exactly 200, copying the response headers that match
/// `allowed_upstream_headers` onto the upstream request, and forwards any other non-5xx status,
/// with its headers and body, to the client. A 5xx is read as an *error* (status_on_error and
/// failure_mode_allow apply), which is right for "headers unavailable" (503) but never used for
/// a policy decision.
public struct HTTPModeCheckService: Sendable {
  /// An HTTP answer, independent of HTTP/1.1 or HTTP/2.
  public struct Answer: Sendable, Equatable {
    /// Response status: 200 allows.
    public var status: Int
    /// Response headers (for an allow: the headers to inject).
    public var headers: [HeaderField]
    /// Response body.
    public var body: String
  }

  /// The configuration in force, read once per check (a reload replaces it whole).
  private let configuration: Published<CheckConfiguration>
  private let clock: any AugmenterClock

  /// Creates the service over the same decider the gRPC mode uses.
  /// - Parameter metrics: where checks are counted; by default series of a registry of their own.
  public init(decider: Decider, clock: any AugmenterClock, metrics: CheckMetrics? = nil) {
    self.init(configuration: CheckConfiguration.standalone(decider: decider, front: .http, metrics: metrics), clock: clock)
  }

  /// Creates the service over the configuration in force (shared with the gRPC front), which
  /// reloads replace.
  public init(configuration: Published<CheckConfiguration>, clock: any AugmenterClock) {
    self.configuration = configuration
    self.clock = clock
  }

  /// The header carrying the names Envoy removes from the upstream request on an allow.
  public static let headersToRemoveHeader = "x-envoy-auth-headers-to-remove"

  /// Decides one HTTP-mode check.
  /// - Parameters:
  ///   - path: the request path as Envoy sent it; `http_mode.path_prefix` is stripped here.
  ///   - header: looks up a request header by lower-case name.
  ///   - headers: every request header (lower-case names, duplicates kept); only called when the
  ///     policy reads request headers.
  ///   - peerIdentity: the connection's verified TLS client identity, if any.
  public func check(
    method: String,
    path: String,
    authority: String,
    scheme: String,
    header: (String) -> String?,
    headers: () -> [HeaderField] = { [] },
    peerIdentity: String? = nil
  ) -> Answer {
    let started = CheckMetrics.start()
    // One configuration for the whole check: its decision is counted in its own series.
    let active = self.configuration.value
    let reads = active.decider.readsRequestHeaders
    let attributes = CheckRequestAttributes(
      method: method,
      path: Self.strip(active.decider.httpModePathPrefix, from: path),
      authority: authority,
      scheme: scheme,
      requestID: header("x-request-id"),
      // HTTP mode has no source peer (the TCP peer is Envoy) and no context_extensions: rules
      // use `client_address: {from: header}` and request headers instead.
      headers: reads ? RequestHeaders(fields: headers()) : RequestHeaders(),
      peerIdentity: peerIdentity
    )
    var outcome = DecisionOutcome.error
    let answer = Self.answer(for: active.decider.decide(attributes, at: self.clock.now(), outcome: &outcome))
    active.httpMetrics.record(outcome, started: started)
    return answer
  }

  /// The HTTP answer for a decision.
  ///
  /// Allow is exactly 200: `set` and `append` headers become response headers (Envoy copies those
  /// matching `allowed_upstream_headers` with set semantics and those matching
  /// `allowed_upstream_headers_to_append` as an added line: which one applies is Envoy's
  /// configuration, not the answer's); `remove` names are listed in
  /// `x-envoy-auth-headers-to-remove`. A deny is its status (4xx, 3xx for a redirect, 503 for
  /// unavailable headers), headers and body.
  static func answer(for decision: Decision) -> Answer {
    switch decision {
    case .allow(let fields):
      var headers: [HeaderField] = []
      headers.reserveCapacity(fields.count)
      var removed: [String] = []
      for field in fields {
        if field.action == .remove {
          removed.append(field.name)
        } else {
          headers.append(HeaderField(name: field.name, value: field.value))
        }
      }
      if !removed.isEmpty {
        headers.append(HeaderField(name: Self.headersToRemoveHeader, value: removed.joined(separator: ", ")))
      }
      return Answer(status: 200, headers: headers, body: "")
    case .deny(let answer):
      return Answer(status: answer.status, headers: answer.headers, body: answer.body)
    }
  }

  /// `path` without Envoy's `path_prefix` (`/ext-authz/a?b` → `/a?b`); unchanged when it does
  /// not start with the prefix.
  static func strip(_ prefix: String?, from path: String) -> String {
    guard let prefix, path.hasPrefix(prefix) else { return path }
    let rest = path.dropFirst(prefix.count)
    if rest.isEmpty { return "/" }
    if rest.first == "/" { return String(rest) }
    if rest.first == "?" { return "/" + rest }
    return path  // `/ext-authzfoo` is not under the prefix
  }

  /// The answer for a check whose body was larger than we buffer.
  public static let tooLarge = Answer(
    status: 413,
    headers: [HeaderField(name: "content-type", value: "text/plain; charset=utf-8")],
    body: "check request body too large\n"
  )
}

/// HTTP-mode checks arriving over h2c: the fallback of the check port's gRPC router.
public struct HTTPModeCheckResponder: HTTP2RequestResponder {
  private let service: HTTPModeCheckService

  /// Creates the responder.
  public init(service: HTTPModeCheckService) {
    self.service = service
  }

  public func respond(to request: HTTP2Request, allocator: ByteBufferAllocator) -> HTTP2Response {
    let head = request.head
    let answer = self.service.check(
      method: head.method,
      path: head.path,
      authority: head.authority,
      scheme: head.scheme,
      header: { head.firstValue($0) },
      headers: { head.headers.map { HeaderField(name: $0.name, value: $0.value) } },
      peerIdentity: request.peerIdentity
    )
    return Self.response(answer, method: head.method, allocator: allocator)
  }

  public func respondToOversizedRequest(_ head: HTTP2RequestHead, allocator: ByteBufferAllocator) -> HTTP2Response {
    Self.response(HTTPModeCheckService.tooLarge, method: head.method, allocator: allocator)
  }

  private static func response(_ answer: HTTPModeCheckService.Answer, method: String, allocator: ByteBufferAllocator)
    -> HTTP2Response
  {
    HTTP2Response(
      status: answer.status,
      headers: answer.headers.map { HTTP2Header($0.name, $0.value) },
      body: answer.body.isEmpty || method == "HEAD" ? nil : allocator.buffer(string: answer.body)
    )
  }
}
