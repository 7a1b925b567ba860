//===----------------------------------------------------------------------===//
// End-to-end harness: gRPC paths and the CheckRequest/CheckResponse helpers.
//===----------------------------------------------------------------------===//

import EnvoyAPI
import Foundation
import SwiftProtobuf

/// gRPC paths on the check port.
enum GRPCPath {
  static let check = "/envoy.service.auth.v3.Authorization/Check"
  static let health = "/grpc.health.v1.Health/Check"
}

/// Messages shaped like what Envoy 1.40's ext_authz filter sends.
enum Messages {
  /// A CheckRequest as Envoy builds it for `GET <path>` from an HTTP/1.1 client: peers, time, and a
  /// dozen request headers in `attributes.request.http.headers` (pseudo-headers included).
  static func checkRequest(path: String = "/anything", extraHeaders: [String: String] = [:]) -> Envoy_Service_Auth_V3_CheckRequest {
    var request = Envoy_Service_Auth_V3_CheckRequest()
    var source = Envoy_Service_Auth_V3_AttributeContext.Peer()
    source.address.socketAddress.address = "127.0.0.1"
    source.address.socketAddress.portValue = 53_124
    var destination = Envoy_Service_Auth_V3_AttributeContext.Peer()
    destination.address.socketAddress.address = "127.0.0.1"
    destination.address.socketAddress.portValue = 10_000
    request.attributes.source = source
    request.attributes.destination = destination
    request.attributes.request.time = Google_Protobuf_Timestamp(date: Date())

    var http = Envoy_Service_Auth_V3_AttributeContext.HttpRequest()
    http.id = "9215638416042618471"
    http.method = "GET"
    http.path = path
    http.host = "api.example.test"
    http.scheme = "http"
    http.protocol = "HTTP/1.1"
    http.headers = [
      ":authority": "api.example.test",
      ":method": "GET",
      ":path": path,
      ":scheme": "http",
      "accept": "application/json",
      "accept-encoding": "gzip, deflate, br",
      "authorization": "Bearer client-forged",
      "user-agent": "curl/8.5.0",
      "x-forwarded-proto": "http",
      "x-request-id": "6f1d2a8e-6a43-4c4e-9d0b-2a3c1e7f5b11",
      "x-envoy-expected-rq-timeout-ms": "15000",
      "cookie": "session=abc123; theme=dark",
    ].merging(extraHeaders) { $1 }
    request.attributes.request.http = http
    return request
  }

  /// The length-prefixed body of a Check call.
  static func checkBody(_ request: Envoy_Service_Auth_V3_CheckRequest = checkRequest()) throws -> [UInt8] {
    try GRPCWire.frame(request)
  }

  static func healthBody(service: String) throws -> [UInt8] {
    var request = Grpc_Health_V1_HealthCheckRequest()
    request.service = service
    return try GRPCWire.frame(request)
  }
}

extension Envoy_Service_Auth_V3_CheckResponse {
  /// `ok_response.headers` as (name, value, append) with `append` nil when unset.
  var okHeaders: [(name: String, value: String, append: Bool?)] {
    guard case .okResponse(let ok)? = httpResponse else { return [] }
    return ok.headers.map { ($0.header.key, $0.header.value, $0.hasAppend ? $0.append.value : nil) }
  }
}
