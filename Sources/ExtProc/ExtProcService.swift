//===----------------------------------------------------------------------===//
// Augmenter — the ext_proc adapter: ProcessingRequest in, the core decision, ProcessingResponse out.
//===----------------------------------------------------------------------===//

public import AugmenterCore
public import AugmenterMetrics
import EnvoyAPI
import Foundation
public import GRPC
import SwiftProtobuf

/// Translates `envoy.service.ext_proc.v3.ExternalProcessor/Process` to and from the core decision.
///
/// The request phase makes exactly the decision the ext_authz front makes for the same request
/// (the same `Decider`): an allow becomes a header mutation on `request_headers`, a deny (or a
/// redirect, a rate limit, unavailable headers) an `immediate_response`. On the way back, the
/// response headers of an upstream error that `error_responses` selects are answered with
/// CONTINUE_AND_REPLACE and a problem+json body. Every other message is answered with CONTINUE
/// and changes nothing. Everything runs synchronously on the stream's event loop: decode,
/// decide from the current snapshots, encode.
public struct ExtProcService: Sendable {
  /// The gRPC path Envoy's ext_proc filter calls.
  public static let path = "/envoy.service.ext_proc.v3.ExternalProcessor/Process"

  /// The configuration in force, read once per message (a reload replaces it whole): the
  /// decider, the `ext_proc` check series, the error rewriting.
  private let configuration: Published<CheckConfiguration>
  private let clock: any AugmenterClock

  /// Creates the service over a decider and the clock its snapshots are stamped with; upstream
  /// errors that `errorResponses` selects are rewritten with `problemTypes`' type and title.
  /// Decisions are counted in `metrics` (by default in a registry of their own).
  public init(
    decider: Decider, clock: any AugmenterClock, errorResponses: ErrorResponses = ErrorResponses(),
    problemTypes: [Int: ProblemType] = [:], metrics: CheckMetrics? = nil
  ) {
    self.init(
      configuration: CheckConfiguration.standalone(
        decider: decider, front: .extProc, metrics: metrics, errorResponses: errorResponses, problemTypes: problemTypes),
      clock: clock)
  }

  /// Creates the service over the configuration in force (shared with the ext_authz fronts),
  /// which reloads replace.
  public init(configuration: Published<CheckConfiguration>, clock: any AugmenterClock) {
    self.configuration = configuration
    self.clock = clock
  }

  /// Counts a stream refused for a message that is not a ProcessingRequest (outcome `error`).
  func recordUndecodableMessage() {
    self.configuration.value.extProcMetrics.record(.error, started: CheckMetrics.start())
  }

  /// What a stream remembers of its request's headers for the response phase.
  struct RequestState: Sendable {
    var method = ""
    var path = ""
    var requestID: String?
    /// The request phase answered with an immediate response: nothing of the response phase
    /// is rewritten (Augmenter's own answer must not be wrapped twice).
    var answeredLocally = false
    /// The status of an upstream error whose body was asked for (mode override to BUFFERED)
    /// to quote it in the problem document; the body message then gets the rewrite.
    var quotedStatus: Int?
    /// The deciding rule's `response_headers` (shared with the decider: no copy).
    var responseHeaders: [HeaderField] = []
  }

  /// The method to register for `path`: one `ExtProcCall` per stream.
  public var method: GRPCMethod {
    .bidirectionalStreaming { stream, context in
      ExtProcCall(service: self, stream: stream, peerIdentity: context.peerIdentity)
    }
  }

  /// The answer to one message of a stream; nil when none is owed (observability mode).
  /// - Throws: INVALID_ARGUMENT for a message that carries no phase.
  func answer(
    _ request: Envoy_Service_ExtProc_V3_ProcessingRequest, peerIdentity: String?, state: inout RequestState
  ) throws(GRPCStatus) -> Envoy_Service_ExtProc_V3_ProcessingResponse? {
    var response = Envoy_Service_ExtProc_V3_ProcessingResponse()
    switch request.request {
    case .requestHeaders(let headers)?:
      let attributes = Self.attributes(of: headers, requestAttributes: request.attributes, peerIdentity: peerIdentity)
      state = RequestState(method: attributes.method, path: attributes.path, requestID: attributes.requestID)
      // Observed only: no decision, so no rate-limit token is taken for a request we don't answer.
      guard !request.observabilityMode else { return nil }
      let started = CheckMetrics.start()
      let active = self.configuration.value
      var outcome = DecisionOutcome.error
      response = Self.response(for: active.decider.decide(attributes, at: self.clock.now(), outcome: &outcome))
      active.extProcMetrics.record(outcome, started: started)
      if outcome.kind == .allow, active.decider.responseHeaders.indices.contains(outcome.source) {
        state.responseHeaders = active.decider.responseHeaders[outcome.source]
      }
      if case .immediateResponse? = response.response { state.answeredLocally = true }
    case .responseHeaders(let headers)?:
      if state.method.isEmpty, state.path.isEmpty {
        // Request headers skipped (ext_authz decided): the filter's `response_attributes` say
        // what the rewrite needs to know of the request.
        state.method = Self.attribute("request.method", in: request.attributes) ?? ""
        state.path = Self.attribute("request.path", in: request.attributes) ?? ""
        state.requestID = Self.attribute("request.id", in: request.attributes)
      }
      response = self.answer(responseHeaders: headers, state: &state)
    case .requestBody?:
      response.requestBody = Envoy_Service_ExtProc_V3_BodyResponse()
    case .responseBody(let body)?:
      response.responseBody = self.answer(responseBody: body, state: &state)
    case .requestTrailers?:
      response.requestTrailers = Envoy_Service_ExtProc_V3_TrailersResponse()
    case .responseTrailers?:
      response.responseTrailers = Envoy_Service_ExtProc_V3_TrailersResponse()
    case nil:
      throw GRPCStatus(.invalidArgument, "ProcessingRequest carries no request phase (fields 2 to 7 are all unset)")
    }
    return request.observabilityMode ? nil : response
  }

  /// The answer to an upstream response's headers.
  ///
  /// The deciding rule's `response_headers` apply to every response of a request that was
  /// allowed. Beyond them, CONTINUE, unless `error_responses` selects the response. Then,
  /// without a quote (or when the body cannot be quoted: none follows, or it is
  /// content-encoded), CONTINUE_AND_REPLACE with the problem document: Envoy drops the upstream
  /// body and its content-length itself. With a quote, CONTINUE with a mode override to
  /// BUFFERED for this response only, so Envoy holds the headers and sends the whole body,
  /// which `answer(responseBody:state:)` rewrites.
  func answer(
    responseHeaders headers: Envoy_Service_ExtProc_V3_HttpHeaders, state: inout RequestState
  ) -> Envoy_Service_ExtProc_V3_ProcessingResponse {
    var response = Envoy_Service_ExtProc_V3_ProcessingResponse()
    response.responseHeaders = Envoy_Service_ExtProc_V3_HeadersResponse()
    let active = self.configuration.value
    let errorResponses = active.errorResponses
    guard !state.answeredLocally, errorResponses.isEnabled || !state.responseHeaders.isEmpty else { return response }
    var status: Int?
    var contentType: String?
    var encoded = false
    var present: Set<String> = []
    for entry in headers.headers.headers {
      let name = Self.name(of: entry)
      switch name {
      case ":status": status = Int(Self.text(of: entry))
      case "content-type": contentType = Self.text(of: entry)
      case "content-encoding":
        let coding = Self.text(of: entry).lowercased()
        encoded = encoded || !(coding.isEmpty || coding == "identity")
      default: break
      }
      if !state.responseHeaders.isEmpty { present.insert(name) }
    }
    var mutation = Self.mutation(state.responseHeaders, present: present)
    guard let status, errorResponses.isEnabled,
      errorResponses.rewrites(status: status, contentType: contentType, method: state.method, path: state.path)
    else {
      if Self.changes(mutation) { response.responseHeaders.response.headerMutation = mutation }
      return response
    }
    if errorResponses.quoteBodyBytes > 0, !headers.endOfStream, !encoded {
      state.quotedStatus = status
      var mode = Envoy_Extensions_Filters_Http_ExtProc_V3_ProcessingMode()
      mode.responseBodyMode = .buffered
      response.modeOverride = mode
      if Self.changes(mutation) { response.responseHeaders.response.headerMutation = mutation }
      return response
    }
    var common = Self.problemResponse(
      status: status, detail: errorResponses.detail(status: status), problems: active.problems, state: state)
    common.status = .continueAndReplace
    // The document's content-type wins over a rule's; a gzip upstream error must not reach the
    // client labelled gzip.
    mutation.setHeaders.removeAll { $0.header.key == "content-type" }
    common.headerMutation.setHeaders += mutation.setHeaders
    common.headerMutation.removeHeaders = mutation.removeHeaders.filter { $0 != "content-type" } + ["content-encoding"]
    response.responseHeaders.response = common
    return response
  }

  /// The header mutation of `response_headers` on a response that has the headers `present`:
  /// `add_if_absent` only where the response lacks the header.
  static func mutation(_ fields: [HeaderField], present: Set<String>) -> Envoy_Service_ExtProc_V3_HeaderMutation {
    var mutation = Envoy_Service_ExtProc_V3_HeaderMutation()
    for field in fields {
      switch field.action {
      case .set: mutation.setHeaders.append(Self.option(field, append: false))
      case .append: mutation.setHeaders.append(Self.option(field, append: true))
      case .addIfAbsent where !present.contains(field.name): mutation.setHeaders.append(Self.option(field, append: false))
      case .addIfAbsent: break
      case .remove: mutation.removeHeaders.append(field.name)
      }
    }
    return mutation
  }

  private static func changes(_ mutation: Envoy_Service_ExtProc_V3_HeaderMutation) -> Bool {
    !mutation.setHeaders.isEmpty || !mutation.removeHeaders.isEmpty
  }

  /// The answer to a response body: CONTINUE, or, for the error whose body the headers' answer
  /// asked for, the problem document quoting it, with `content-length` set to the new body's
  /// length (in BUFFERED mode Envoy keeps a content-length and requires it to match).
  func answer(
    responseBody body: Envoy_Service_ExtProc_V3_HttpBody, state: inout RequestState
  ) -> Envoy_Service_ExtProc_V3_BodyResponse {
    var answer = Envoy_Service_ExtProc_V3_BodyResponse()
    guard let status = state.quotedStatus else { return answer }
    state.quotedStatus = nil
    // Only a whole body can be replaced: a chunk (the filter configured STREAMED and refusing
    // the override) follows headers Envoy has already sent, so it passes unchanged.
    guard body.endOfStream else { return answer }
    let active = self.configuration.value
    var common = Self.problemResponse(
      status: status, detail: active.errorResponses.detail(status: status, body: body.body), problems: active.problems,
      state: state)
    common.headerMutation.setHeaders.append(
      Self.option(HeaderField(name: "content-length", value: String(common.bodyMutation.body.count)), append: false))
    answer.response = common
    return answer
  }

  /// A common response carrying the problem document for an upstream `status`: its
  /// `content-type` set, the document as the new body.
  private static func problemResponse(
    status: Int, detail: String, problems: ProblemDocument, state: RequestState
  ) -> Envoy_Service_ExtProc_V3_CommonResponse {
    let problem = problems.answer(status: status, detail: detail, requestID: state.requestID)
    var common = Envoy_Service_ExtProc_V3_CommonResponse()
    common.headerMutation.setHeaders = problem.headers.map { Self.option($0, append: false) }
    common.bodyMutation.body = Data(problem.body.utf8)
    return common
  }

  /// The header's name, lower-case. Envoy sends names lower-case already: lower-casing again
  /// would allocate per header per message, so only a name with an upper-case letter is.
  private static func name(of entry: Envoy_Config_Core_V3_HeaderValue) -> String {
    entry.key.utf8.contains(where: { $0 >= 0x41 && $0 <= 0x5A }) ? entry.key.lowercased() : entry.key
  }

  private static func text(of entry: Envoy_Config_Core_V3_HeaderValue) -> String {
    entry.rawValue.isEmpty ? entry.value : String(decoding: entry.rawValue, as: UTF8.self)
  }

  /// The request as the decision sees it: pseudo-headers for method, path, authority and scheme,
  /// every other header (values from `raw_value`, which Envoy fills), and the client address
  /// from the `source.address` request attribute when the filter sends it
  /// (`request_attributes: [source.address]`).
  static func attributes(
    of headers: Envoy_Service_ExtProc_V3_HttpHeaders,
    requestAttributes: [String: Google_Protobuf_Struct],
    peerIdentity: String?
  ) -> CheckRequestAttributes {
    var method = ""
    var path = ""
    var authority = ""
    var scheme = ""
    var requestID: String?
    var fields: [HeaderField] = []
    fields.reserveCapacity(headers.headers.headers.count)
    for entry in headers.headers.headers {
      let value = Self.text(of: entry)
      let name = Self.name(of: entry)
      switch name {
      case ":method": method = value
      case ":path": path = value
      case ":authority": authority = value
      case ":scheme": scheme = value
      default:
        if name.hasPrefix(":") { continue }
        if name == "x-request-id", requestID == nil { requestID = value }
        fields.append(HeaderField(name: name, value: value))
      }
    }
    return CheckRequestAttributes(
      method: method, path: path, authority: authority, scheme: scheme, requestID: requestID,
      headers: RequestHeaders(fields: fields), sourceAddress: Self.sourceAddress(requestAttributes),
      peerIdentity: peerIdentity)
  }

  /// The text of the attribute `name` (`request.path`, `source.address`...) in any filter's
  /// attribute struct; nil when absent, empty or not a string.
  static func attribute(_ name: String, in attributes: [String: Google_Protobuf_Struct]) -> String? {
    for attributes in attributes.values {
      if case .stringValue(let text)? = attributes.fields[name]?.kind, !text.isEmpty { return text }
    }
    return nil
  }

  /// The IP of `source.address` (`ip:port`, `[ipv6]:port`) in any filter's attribute struct.
  static func sourceAddress(_ attributes: [String: Google_Protobuf_Struct]) -> String? {
    guard let address = Self.attribute("source.address", in: attributes) else { return nil }
    if address.hasPrefix("["), let close = address.firstIndex(of: "]") {
      return String(address[address.index(after: address.startIndex)..<close])
    }
    if address.filter({ $0 == ":" }).count == 1, let colon = address.firstIndex(of: ":") {
      return String(address[..<colon])
    }
    return address
  }

  /// The answer to `request_headers` for a decision.
  ///
  /// Allow: `set` → `set_headers` with `append: false` (Envoy replaces the client's values, so
  /// a forged header cannot survive); `append` (kept by the decider only when the request has
  /// the header) → `append: true`, which Envoy adds as another value of the header (ext_authz
  /// joins it onto the existing line with `,`; upstreams read both the same way); `remove` →
  /// `remove_headers`. Deny: `immediate_response` with the status, headers and body the
  /// ext_authz front would send.
  static func response(for decision: Decision) -> Envoy_Service_ExtProc_V3_ProcessingResponse {
    var response = Envoy_Service_ExtProc_V3_ProcessingResponse()
    switch decision {
    case .allow(let fields):
      var mutation = Envoy_Service_ExtProc_V3_HeaderMutation()
      for field in fields {
        switch field.action {
        case .set, .addIfAbsent:  // the decider resolves add_if_absent; a leftover one sets
          mutation.setHeaders.append(Self.option(field, append: false))
        case .append: mutation.setHeaders.append(Self.option(field, append: true))
        case .remove: mutation.removeHeaders.append(field.name)
        }
      }
      var common = Envoy_Service_ExtProc_V3_CommonResponse()
      if !mutation.setHeaders.isEmpty || !mutation.removeHeaders.isEmpty {
        common.headerMutation = mutation
      }
      response.requestHeaders.response = common
    case .deny(let answer):
      var immediate = Envoy_Service_ExtProc_V3_ImmediateResponse()
      immediate.status.code = Envoy_Type_V3_StatusCode(rawValue: answer.status) ?? .forbidden
      if !answer.headers.isEmpty {
        immediate.headers.setHeaders = answer.headers.map { Self.option($0, append: false) }
      }
      immediate.body = Data(answer.body.utf8)
      response.immediateResponse = immediate
    }
    return response
  }

  /// A HeaderValueOption carrying its value in `raw_value` (the only field Envoy's ext_proc
  /// reads) and `append` set explicitly.
  private static func option(_ field: HeaderField, append: Bool) -> Envoy_Config_Core_V3_HeaderValueOption {
    var option = Envoy_Config_Core_V3_HeaderValueOption()
    option.header.key = field.name
    option.header.rawValue = Data(field.value.utf8)
    option.append = Google_Protobuf_BoolValue(append)
    return option
  }
}
