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

  /// The configuration in force, read once per message (a reload replaces it whole).
  private let configuration: Published<CheckConfiguration>
  private let clock: any AugmenterClock

  /// Creates the service over a decider and the clock its snapshots are stamped with; upstream
  /// errors that `errorResponses` selects are rewritten with `problemTypes`' type and title.
  public init(
    decider: Decider, clock: any AugmenterClock, errorResponses: ErrorResponses = ErrorResponses(),
    problemTypes: [Int: ProblemType] = [:]
  ) {
    // This front has no check series of its own yet; the gRPC front's shape is used for both.
    let metrics = CheckMetrics(front: .grpc, sources: decider.outcomeSources, registry: MetricsRegistry())
    self.init(
      configuration: Published(
        CheckConfiguration(
          decider: decider, grpcMetrics: metrics, httpMetrics: metrics, errorResponses: errorResponses,
          problemTypes: problemTypes)),
      clock: clock)
  }

  /// Creates the service over the configuration in force (shared with the ext_authz fronts),
  /// which reloads replace.
  public init(configuration: Published<CheckConfiguration>, clock: any AugmenterClock) {
    self.configuration = configuration
    self.clock = clock
  }

  /// What a stream remembers of its request's headers for the response phase.
  struct RequestState: Sendable {
    var method = ""
    var path = ""
    var requestID: String?
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
      response = Self.response(for: self.configuration.value.decider.decide(attributes, at: self.clock.now()))
    case .responseHeaders(let headers)?:
      response.responseHeaders = self.rewrite(headers, state: state)
    case .requestBody?:
      response.requestBody = Envoy_Service_ExtProc_V3_BodyResponse()
    case .responseBody?:
      response.responseBody = Envoy_Service_ExtProc_V3_BodyResponse()
    case .requestTrailers?:
      response.requestTrailers = Envoy_Service_ExtProc_V3_TrailersResponse()
    case .responseTrailers?:
      response.responseTrailers = Envoy_Service_ExtProc_V3_TrailersResponse()
    case nil:
      throw GRPCStatus(.invalidArgument, "ProcessingRequest carries no request phase (fields 2 to 7 are all unset)")
    }
    return request.observabilityMode ? nil : response
  }

  /// The answer to an upstream response's headers: CONTINUE, or, for an error `error_responses`
  /// selects, CONTINUE_AND_REPLACE with a problem document (`type` and `title` from
  /// `problem_types`, `instance` the request id), `content-type: application/problem+json` and
  /// no `content-encoding` (a gzip upstream error must not reach the client labelled gzip).
  /// Envoy drops the upstream body and the stale `content-length` itself.
  func rewrite(_ headers: Envoy_Service_ExtProc_V3_HttpHeaders, state: RequestState) -> Envoy_Service_ExtProc_V3_HeadersResponse {
    var answer = Envoy_Service_ExtProc_V3_HeadersResponse()
    let active = self.configuration.value
    guard active.errorResponses.isEnabled else { return answer }
    var status: Int?
    var contentType: String?
    for entry in headers.headers.headers {
      switch entry.key.lowercased() {
      case ":status": status = Int(Self.text(of: entry))
      case "content-type": contentType = Self.text(of: entry)
      default: break
      }
    }
    guard let status,
      active.errorResponses.rewrites(status: status, contentType: contentType, method: state.method, path: state.path)
    else { return answer }
    let problem = active.problems.answer(
      status: status, detail: "The upstream service answered \(status) \(ProblemDocument.reasonPhrase(status)).",
      requestID: state.requestID)
    var common = Envoy_Service_ExtProc_V3_CommonResponse()
    common.status = .continueAndReplace
    common.headerMutation.setHeaders = problem.headers.map { Self.option($0, append: false) }
    common.headerMutation.removeHeaders = ["content-encoding"]
    common.bodyMutation.body = Data(problem.body.utf8)
    answer.response = common
    return answer
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
      // Envoy sends names lower-case already: lower-casing again would allocate per header.
      let name = entry.key.utf8.contains(where: { $0 >= 0x41 && $0 <= 0x5A }) ? entry.key.lowercased() : entry.key
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

  /// The IP of `source.address` (`ip:port`, `[ipv6]:port`) in any filter's attribute struct.
  static func sourceAddress(_ attributes: [String: Google_Protobuf_Struct]) -> String? {
    for attributes in attributes.values {
      guard case .stringValue(let address)? = attributes.fields["source.address"]?.kind, !address.isEmpty else {
        continue
      }
      if address.hasPrefix("["), let close = address.firstIndex(of: "]") {
        return String(address[address.index(after: address.startIndex)..<close])
      }
      if address.filter({ $0 == ":" }).count == 1, let colon = address.firstIndex(of: ":") {
        return String(address[..<colon])
      }
      return address
    }
    return nil
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
