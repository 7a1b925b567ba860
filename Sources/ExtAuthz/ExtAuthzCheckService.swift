//===----------------------------------------------------------------------===//
// Augmenter — the gRPC ext_authz adapter: CheckRequest in, Decision, CheckResponse out.
//===----------------------------------------------------------------------===//

public import AugmenterCore
public import AugmenterMetrics
import EnvoyAPI
import Foundation
public import GRPC
public import HTTP2
public import NIOCore
import SwiftProtobuf
import Synchronization

/// Translates `envoy.service.auth.v3.Authorization/Check` to and from the core decision.
///
/// Everything here runs synchronously on the connection's event loop: decode, decide from the
/// current snapshots (no await, no I/O), encode.
public struct ExtAuthzCheckService: Sendable {
  /// The gRPC path Envoy calls.
  public static let path = "/envoy.service.auth.v3.Authorization/Check"

  /// Header names Envoy's ext_authz client sends on every check that are too long to be stored
  /// inline, for `HTTP2Settings.internedStrings`.
  public static let internedHeaderNames = ["x-envoy-internal", "x-envoy-expected-rq-timeout-ms"]

  /// The configuration in force, read once per check (a reload replaces it whole).
  private let configuration: Published<CheckConfiguration>
  private let clock: any AugmenterClock
  private let lastResponse = LastResponse()

  /// Creates the service over a decider and the clock its snapshots are stamped with.
  /// - Parameter metrics: where checks are counted; by default series of a registry of their
  ///   own, so a service is always measured the same way (the allocation budget covers it).
  public init(decider: Decider, clock: any AugmenterClock, metrics: CheckMetrics? = nil) {
    self.init(configuration: CheckConfiguration.standalone(decider: decider, front: .grpc, metrics: metrics), clock: clock)
  }

  /// Creates the service over the configuration in force, which reloads replace.
  public init(configuration: Published<CheckConfiguration>, clock: any AugmenterClock) {
    self.configuration = configuration
    self.clock = clock
  }

  /// The last decision and its encoding: consecutive checks mostly get the same answer (the same
  /// headers until a snapshot changes), so they reuse the bytes instead of building and
  /// serializing a CheckResponse each time. The bytes are kept framed as a gRPC message, so the
  /// router sends the one shared buffer as it is. The lock covers only copying the pair.
  final class LastResponse: Sendable {
    private let pair = Mutex<(Decision, ByteBuffer)?>(nil)

    func framed(for decision: Decision) throws -> ByteBuffer {
      if let (cached, framed) = self.pair.withLock({ $0 }), cached == decision {
        return framed
      }
      let bytes: [UInt8] = try ExtAuthzCheckService.response(for: decision).serializedBytes()
      let framed = GRPCMessageFramer.framed(bytes, allocator: ByteBufferAllocator())
      self.pair.withLock { $0 = (decision, framed) }
      return framed
    }
  }

  /// Handles one serialized CheckRequest; returns a serialized CheckResponse.
  /// - Parameter peerIdentity: the connection's verified TLS client identity, if any.
  public func check(_ message: ByteBuffer, peerIdentity: String? = nil) throws(GRPCStatus) -> [UInt8] {
    Array(try self.framedCheck(message, peerIdentity: peerIdentity).readableBytesView.dropFirst(5))
  }

  /// Handles one serialized CheckRequest; returns the CheckResponse as a framed gRPC message
  /// (often the same shared buffer as the previous call: see `LastResponse`).
  /// - Parameter peerIdentity: the connection's verified TLS client identity, if any.
  public func framedCheck(_ message: ByteBuffer, peerIdentity: String? = nil) throws(GRPCStatus) -> ByteBuffer {
    let started = CheckMetrics.start()
    // One configuration for the whole check: its decision is counted in its own series.
    let active = self.configuration.value
    // Stays `error` unless a decision is made and encoded.
    var outcome = DecisionOutcome.error
    defer { active.grpcMetrics.record(outcome, started: started) }
    let readingHeaders = active.decider.readsRequestHeaders
    var attributes: CheckRequestAttributes
    if let scanned = CheckRequestScanner.scan(message, readingHeaders: readingHeaders) {
      attributes = Self.attributes(of: scanned, readingHeaders: readingHeaders)
    } else {
      // What the scanner leaves aside is decoded in full: accepted as the decoder accepts it,
      // or refused with the decoder's reason.
      let request = try Envoy_Service_Auth_V3_CheckRequest(grpcRequest: message)
      attributes = Self.attributes(of: request, readingHeaders: readingHeaders)
    }
    attributes.peerIdentity = peerIdentity
    var decided = DecisionOutcome.error
    let decision = active.decider.decide(attributes, at: self.clock.now(), outcome: &decided)
    do {
      let framed = try self.lastResponse.framed(for: decision)
      outcome = decided
      return framed
    } catch {
      throw GRPCStatus(.internal, "could not encode CheckResponse: \(error)")
    }
  }

  /// The request attributes the core decides on.
  ///
  /// Headers come from `http.headers` (#3, duplicates already joined with `,`), used as is, or,
  /// with Envoy's `encode_raw_headers: true`, from `http.header_map` (#13, `raw_value`), kept as
  /// a list. `readingHeaders: false` (no rule reads them: `Decider.readsRequestHeaders`) leaves
  /// the headers out; `x-request-id` is read either way.
  static func attributes(
    of request: some CheckRequestFields, readingHeaders: Bool = true
  ) -> CheckRequestAttributes {
    var headers = RequestHeaders()
    var requestID: String?
    if request.hasHTTPHeaders {
      if readingHeaders {
        headers = RequestHeaders(request.httpHeaders)
        requestID = headers["x-request-id"]
      } else {
        requestID = request.httpHeadersRequestID
      }
    } else if request.hasHTTPHeaderMap {
      // encode_raw_headers: true sends header_map (#13) instead of headers (#3).
      if readingHeaders {
        let fields = request.httpHeaderMapFields.map { field in
          HeaderField(name: field.name.lowercased(), value: field.value)
        }
        headers = RequestHeaders(fields: fields)
        requestID = headers["x-request-id"]
      } else {
        requestID = request.httpHeaderMapRequestID
      }
    }
    return CheckRequestAttributes(
      method: request.httpMethod,
      path: request.httpPath,
      authority: request.httpHost,
      scheme: request.httpScheme,
      requestID: requestID,
      headers: headers,
      sourceAddress: request.sourceAddress,
      destinationAddress: request.destinationAddress,
      contextExtensions: request.contextExtensions
    )
  }

  /// Encodes a decision as Envoy expects it.
  ///
  /// Allow: `set` → `ok_response.headers` with `append: false` (Envoy replaces the client's
  /// values); `append` (the decider keeps it only when the request has the header) → `append:
  /// true` (Envoy joins the value onto the existing one with `,`); `remove` →
  /// `ok_response.headers_to_remove`. Envoy reads only `append` here, never `append_action`.
  static func response(for decision: Decision) -> Envoy_Service_Auth_V3_CheckResponse {
    var response = Envoy_Service_Auth_V3_CheckResponse()
    switch decision {
    case .allow(let headers):
      var ok = Envoy_Service_Auth_V3_OkHttpResponse()
      ok.headers.reserveCapacity(headers.count)
      for field in headers {
        switch field.action {
        case .set, .addIfAbsent:  // the decider resolves add_if_absent; a leftover one sets
          ok.headers.append(Self.option(field, append: false))
        case .append:
          ok.headers.append(Self.option(field, append: true))
        case .remove:
          ok.headersToRemove.append(field.name)
        }
      }
      response.status.code = 0
      response.okResponse = ok
    case .deny(let answer):
      var denied = Envoy_Service_Auth_V3_DeniedHttpResponse()
      denied.status.code = Envoy_Type_V3_StatusCode(rawValue: answer.status) ?? .forbidden
      denied.headers = answer.headers.map { Self.option($0, append: false) }
      denied.body = answer.body
      // UNAVAILABLE for 503 (our "headers unavailable"), RESOURCE_EXHAUSTED for 429,
      // PERMISSION_DENIED otherwise. Envoy only tells 0 from the rest; the HTTP status the
      // client sees is denied_response.status.
      switch answer.status {
      case 503: response.status.code = 14
      case 429: response.status.code = 8
      default: response.status.code = 7
      }
      response.deniedResponse = denied
    }
    return response
  }

  /// A HeaderValueOption with `append` set explicitly.
  ///
  /// `append: false` makes Envoy overwrite, so a client cannot smuggle its own value of an
  /// injected header; `append: true` joins onto the existing value (a no-op when the header is
  /// absent, which is why the decider turns such an append into a set).
  private static func option(_ field: HeaderField, append: Bool) -> Envoy_Config_Core_V3_HeaderValueOption {
    var option = Envoy_Config_Core_V3_HeaderValueOption()
    option.header.key = field.name
    option.header.value = field.value
    option.append = Google_Protobuf_BoolValue(append)
    return option
  }
}
