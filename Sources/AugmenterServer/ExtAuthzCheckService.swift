//===----------------------------------------------------------------------===//
// Augmenter — the gRPC ext_authz adapter: CheckRequest in, Decision, CheckResponse out.
//===----------------------------------------------------------------------===//

public import AugmenterCore
import EnvoyAPI
import Foundation
public import HTTP2
public import NIOCore
import SwiftProtobuf

/// Translates `envoy.service.auth.v3.Authorization/Check` to and from the core decision.
///
/// Everything here runs synchronously on the connection's event loop: decode, decide from the
/// current snapshots (no await, no I/O), encode.
public struct ExtAuthzCheckService: Sendable {
  /// The gRPC path Envoy calls.
  public static let path = "/envoy.service.auth.v3.Authorization/Check"

  private let decider: Decider
  private let clock: any AugmenterClock

  /// Creates the service over a decider and the clock its snapshots are stamped with.
  public init(decider: Decider, clock: any AugmenterClock) {
    self.decider = decider
    self.clock = clock
  }

  /// Handles one serialized CheckRequest; returns a serialized CheckResponse.
  public func check(_ message: ByteBuffer) throws(GRPCStatus) -> [UInt8] {
    let request: Envoy_Service_Auth_V3_CheckRequest
    do {
      request = try Envoy_Service_Auth_V3_CheckRequest(serializedBytes: Array(message.readableBytesView))
    } catch {
      throw GRPCStatus(
        .invalidArgument,
        "request is not a valid envoy.service.auth.v3.CheckRequest: \(error)"
      )
    }
    let decision = self.decider.decide(Self.attributes(of: request), at: self.clock.now())
    do {
      return try Self.response(for: decision).serializedBytes()
    } catch {
      throw GRPCStatus(.internal, "could not encode CheckResponse: \(error)")
    }
  }

  /// The request attributes the core decides on.
  static func attributes(of request: Envoy_Service_Auth_V3_CheckRequest) -> CheckRequestAttributes {
    let http = request.attributes.request.http
    var requestID = http.headers["x-request-id"]
    if requestID == nil, http.hasHeaderMap {
      // encode_raw_headers: true sends header_map (#13) instead of headers (#3).
      requestID = http.headerMap.headers.first { $0.key == "x-request-id" }.map {
        $0.value.isEmpty ? String(decoding: $0.rawValue, as: UTF8.self) : $0.value
      }
    }
    return CheckRequestAttributes(
      method: http.method,
      path: http.path,
      authority: http.host,
      scheme: http.scheme,
      requestID: requestID
    )
  }

  /// Encodes a decision as Envoy expects it.
  static func response(for decision: Decision) -> Envoy_Service_Auth_V3_CheckResponse {
    var response = Envoy_Service_Auth_V3_CheckResponse()
    switch decision {
    case .allow(let headers):
      var ok = Envoy_Service_Auth_V3_OkHttpResponse()
      ok.headers = headers.map(Self.overwrite)
      response.status.code = 0
      response.okResponse = ok
    case .deny(let answer):
      var denied = Envoy_Service_Auth_V3_DeniedHttpResponse()
      denied.status.code = Envoy_Type_V3_StatusCode(rawValue: answer.status) ?? .forbidden
      denied.headers = answer.headers.map(Self.overwrite)
      denied.body = answer.body
      // UNAVAILABLE for 503 (our "headers unavailable"), PERMISSION_DENIED otherwise.
      response.status.code = answer.status == 503 ? 14 : 7
      response.deniedResponse = denied
    }
    return response
  }

  /// A header that replaces any value of the same name.
  ///
  /// Envoy reads only `append` for ok/denied headers (not `append_action`); `false` makes it
  /// overwrite, so a client cannot smuggle its own value of an injected header.
  private static func overwrite(_ field: HeaderField) -> Envoy_Config_Core_V3_HeaderValueOption {
    var option = Envoy_Config_Core_V3_HeaderValueOption()
    option.header.key = field.name
    option.header.value = field.value
    option.append = Google_Protobuf_BoolValue(false)
    return option
  }
}
