//===----------------------------------------------------------------------===//
// EnvoyAPI tests: Field numbers.
//===----------------------------------------------------------------------===//

import EnvoyAPI
import Foundation
import SwiftProtobuf
import Testing

/// One message with exactly one field set, and the bytes that field must encode to.
struct SingleField: Sendable, CustomTestStringConvertible {
  let name: String
  let expected: [UInt8]
  let encode: @Sendable () throws -> [UInt8]

  var testDescription: String { name }

  init<M: SwiftProtobuf.Message>(_ name: String, _ expected: [UInt8], _ build: @escaping @Sendable (inout M) -> Void) {
    self.name = name
    self.expected = expected
    self.encode = {
      var message = M()
      build(&message)
      return try message.serializedBytes()
    }
  }
}

private typealias Ctx = Envoy_Service_Auth_V3_AttributeContext
private typealias Core = Envoy_Config_Core_V3_HeaderValue

// Every field of every message we define, set alone. The first byte is the tag
// (number << 3 | wire type), so each row pins one field number from upstream.
private let everyField: [SingleField] = [
  // envoy.service.auth.v3
  .init("CheckRequest.attributes #1", [0x0A, 0x00]) { (m: inout Envoy_Service_Auth_V3_CheckRequest) in m.attributes = .init() },
  .init("AttributeContext.source #1", [0x0A, 0x00]) { (m: inout Ctx) in m.source = .init() },
  .init("AttributeContext.destination #2", [0x12, 0x00]) { (m: inout Ctx) in m.destination = .init() },
  .init("AttributeContext.request #4", [0x22, 0x00]) { (m: inout Ctx) in m.request = .init() },
  .init("AttributeContext.context_extensions #10", [0x52, 0x06, 0x0A, 0x01, 0x6B, 0x12, 0x01, 0x76]) { (m: inout Ctx) in
    m.contextExtensions = ["k": "v"]
  },
  .init("AttributeContext.metadata_context #11", [0x5A, 0x00]) { (m: inout Ctx) in m.metadataContext = .init() },
  .init("AttributeContext.tls_session #12", [0x62, 0x00]) { (m: inout Ctx) in m.tlsSession = .init() },
  .init("AttributeContext.route_metadata_context #13", [0x6A, 0x00]) { (m: inout Ctx) in m.routeMetadataContext = .init() },
  .init("Peer.address #1", [0x0A, 0x00]) { (m: inout Ctx.Peer) in m.address = .init() },
  .init("Peer.service #2", [0x12, 0x01, 0x61]) { (m: inout Ctx.Peer) in m.service = "a" },
  .init("Peer.labels #3", [0x1A, 0x06, 0x0A, 0x01, 0x6B, 0x12, 0x01, 0x76]) { (m: inout Ctx.Peer) in m.labels = ["k": "v"] },
  .init("Peer.principal #4", [0x22, 0x01, 0x61]) { (m: inout Ctx.Peer) in m.principal = "a" },
  .init("Peer.certificate #5", [0x2A, 0x01, 0x61]) { (m: inout Ctx.Peer) in m.certificate = "a" },
  .init("Request.time #1", [0x0A, 0x02, 0x08, 0x01]) { (m: inout Ctx.Request) in m.time = .init(seconds: 1) },
  .init("Request.http #2", [0x12, 0x00]) { (m: inout Ctx.Request) in m.http = .init() },
  .init("HttpRequest.id #1", [0x0A, 0x01, 0x61]) { (m: inout Ctx.HttpRequest) in m.id = "a" },
  .init("HttpRequest.method #2", [0x12, 0x01, 0x61]) { (m: inout Ctx.HttpRequest) in m.method = "a" },
  .init("HttpRequest.headers #3", [0x1A, 0x06, 0x0A, 0x01, 0x6B, 0x12, 0x01, 0x76]) { (m: inout Ctx.HttpRequest) in m.headers = ["k": "v"]
  },
  .init("HttpRequest.path #4", [0x22, 0x01, 0x61]) { (m: inout Ctx.HttpRequest) in m.path = "a" },
  .init("HttpRequest.host #5", [0x2A, 0x01, 0x61]) { (m: inout Ctx.HttpRequest) in m.host = "a" },
  .init("HttpRequest.scheme #6", [0x32, 0x01, 0x61]) { (m: inout Ctx.HttpRequest) in m.scheme = "a" },
  .init("HttpRequest.query #7", [0x3A, 0x01, 0x61]) { (m: inout Ctx.HttpRequest) in m.query = "a" },
  .init("HttpRequest.fragment #8", [0x42, 0x01, 0x61]) { (m: inout Ctx.HttpRequest) in m.fragment = "a" },
  .init("HttpRequest.size #9", [0x48, 0x05]) { (m: inout Ctx.HttpRequest) in m.size = 5 },
  .init("HttpRequest.protocol #10", [0x52, 0x01, 0x61]) { (m: inout Ctx.HttpRequest) in m.protocol = "a" },
  .init("HttpRequest.body #11", [0x5A, 0x01, 0x61]) { (m: inout Ctx.HttpRequest) in m.body = "a" },
  .init("HttpRequest.raw_body #12", [0x62, 0x01, 0x61]) { (m: inout Ctx.HttpRequest) in m.rawBody = Data("a".utf8) },
  .init("HttpRequest.header_map #13", [0x6A, 0x00]) { (m: inout Ctx.HttpRequest) in m.headerMap = .init() },
  .init("TLSSession.sni #1", [0x0A, 0x01, 0x61]) { (m: inout Ctx.TLSSession) in m.sni = "a" },
  .init("DeniedHttpResponse.status #1", [0x0A, 0x00]) { (m: inout Envoy_Service_Auth_V3_DeniedHttpResponse) in m.status = .init() },
  .init("DeniedHttpResponse.headers #2", [0x12, 0x00]) { (m: inout Envoy_Service_Auth_V3_DeniedHttpResponse) in m.headers = [.init()] },
  .init("DeniedHttpResponse.body #3", [0x1A, 0x01, 0x61]) { (m: inout Envoy_Service_Auth_V3_DeniedHttpResponse) in m.body = "a" },
  .init("OkHttpResponse.headers #2", [0x12, 0x00]) { (m: inout Envoy_Service_Auth_V3_OkHttpResponse) in m.headers = [.init()] },
  .init("OkHttpResponse.dynamic_metadata #3", [0x1A, 0x00]) { (m: inout Envoy_Service_Auth_V3_OkHttpResponse) in m.dynamicMetadata = .init()
  },
  .init("OkHttpResponse.headers_to_remove #5", [0x2A, 0x01, 0x61]) { (m: inout Envoy_Service_Auth_V3_OkHttpResponse) in
    m.headersToRemove = ["a"]
  },
  .init("OkHttpResponse.response_headers_to_add #6", [0x32, 0x00]) { (m: inout Envoy_Service_Auth_V3_OkHttpResponse) in
    m.responseHeadersToAdd = [.init()]
  },
  .init("OkHttpResponse.query_parameters_to_set #7", [0x3A, 0x00]) { (m: inout Envoy_Service_Auth_V3_OkHttpResponse) in
    m.queryParametersToSet = [.init()]
  },
  .init("OkHttpResponse.query_parameters_to_remove #8", [0x42, 0x01, 0x61]) { (m: inout Envoy_Service_Auth_V3_OkHttpResponse) in
    m.queryParametersToRemove = ["a"]
  },
  .init("CheckResponse.status #1", [0x0A, 0x00]) { (m: inout Envoy_Service_Auth_V3_CheckResponse) in m.status = .init() },
  .init("CheckResponse.denied_response #2", [0x12, 0x00]) { (m: inout Envoy_Service_Auth_V3_CheckResponse) in m.deniedResponse = .init() },
  .init("CheckResponse.ok_response #3", [0x1A, 0x00]) { (m: inout Envoy_Service_Auth_V3_CheckResponse) in m.okResponse = .init() },
  .init("CheckResponse.dynamic_metadata #4", [0x22, 0x00]) { (m: inout Envoy_Service_Auth_V3_CheckResponse) in m.dynamicMetadata = .init()
  },
  .init("CheckResponse.error_response #5", [0x2A, 0x00]) { (m: inout Envoy_Service_Auth_V3_CheckResponse) in m.errorResponse = .init() },
  // envoy.config.core.v3
  .init("HeaderValue.key #1", [0x0A, 0x01, 0x61]) { (m: inout Core) in m.key = "a" },
  .init("HeaderValue.value #2", [0x12, 0x01, 0x61]) { (m: inout Core) in m.value = "a" },
  .init("HeaderValue.raw_value #3", [0x1A, 0x01, 0x61]) { (m: inout Core) in m.rawValue = Data("a".utf8) },
  .init("HeaderValueOption.header #1", [0x0A, 0x00]) { (m: inout Envoy_Config_Core_V3_HeaderValueOption) in m.header = .init() },
  .init("HeaderValueOption.append #2", [0x12, 0x00]) { (m: inout Envoy_Config_Core_V3_HeaderValueOption) in m.append = .init(false) },
  .init("HeaderValueOption.append_action #3", [0x18, 0x01]) { (m: inout Envoy_Config_Core_V3_HeaderValueOption) in
    m.appendAction = .addIfAbsent
  },
  .init("HeaderValueOption.keep_empty_value #4", [0x20, 0x01]) { (m: inout Envoy_Config_Core_V3_HeaderValueOption) in
    m.keepEmptyValue = true
  },
  .init("HeaderMap.headers #1", [0x0A, 0x00]) { (m: inout Envoy_Config_Core_V3_HeaderMap) in m.headers = [.init()] },
  .init("Metadata.filter_metadata #1", [0x0A, 0x05, 0x0A, 0x01, 0x6B, 0x12, 0x00]) { (m: inout Envoy_Config_Core_V3_Metadata) in
    m.filterMetadata = ["k": .init()]
  },
  .init("Metadata.typed_filter_metadata #2", [0x12, 0x05, 0x0A, 0x01, 0x6B, 0x12, 0x00]) { (m: inout Envoy_Config_Core_V3_Metadata) in
    m.typedFilterMetadata = ["k": .init()]
  },
  .init("QueryParameter.key #1", [0x0A, 0x01, 0x61]) { (m: inout Envoy_Config_Core_V3_QueryParameter) in m.key = "a" },
  .init("QueryParameter.value #2", [0x12, 0x01, 0x61]) { (m: inout Envoy_Config_Core_V3_QueryParameter) in m.value = "a" },
  .init("Address.socket_address #1", [0x0A, 0x00]) { (m: inout Envoy_Config_Core_V3_Address) in m.socketAddress = .init() },
  .init("Address.pipe #2", [0x12, 0x00]) { (m: inout Envoy_Config_Core_V3_Address) in m.pipe = .init() },
  .init("Address.envoy_internal_address #3", [0x1A, 0x00]) { (m: inout Envoy_Config_Core_V3_Address) in m.envoyInternalAddress = .init() },
  .init("SocketAddress.protocol #1", [0x08, 0x01]) { (m: inout Envoy_Config_Core_V3_SocketAddress) in m.protocol = .udp },
  .init("SocketAddress.address #2", [0x12, 0x01, 0x61]) { (m: inout Envoy_Config_Core_V3_SocketAddress) in m.address = "a" },
  .init("SocketAddress.port_value #3", [0x18, 0x05]) { (m: inout Envoy_Config_Core_V3_SocketAddress) in m.portValue = 5 },
  .init("SocketAddress.named_port #4", [0x22, 0x01, 0x61]) { (m: inout Envoy_Config_Core_V3_SocketAddress) in m.namedPort = "a" },
  .init("SocketAddress.resolver_name #5", [0x2A, 0x01, 0x61]) { (m: inout Envoy_Config_Core_V3_SocketAddress) in m.resolverName = "a" },
  .init("SocketAddress.ipv4_compat #6", [0x30, 0x01]) { (m: inout Envoy_Config_Core_V3_SocketAddress) in m.ipv4Compat = true },
  .init("SocketAddress.network_namespace_filepath #7", [0x3A, 0x01, 0x61]) { (m: inout Envoy_Config_Core_V3_SocketAddress) in
    m.networkNamespaceFilepath = "a"
  },
  .init("Pipe.path #1", [0x0A, 0x01, 0x61]) { (m: inout Envoy_Config_Core_V3_Pipe) in m.path = "a" },
  .init("Pipe.mode #2", [0x10, 0x05]) { (m: inout Envoy_Config_Core_V3_Pipe) in m.mode = 5 },
  .init("EnvoyInternalAddress.server_listener_name #1", [0x0A, 0x01, 0x61]) { (m: inout Envoy_Config_Core_V3_EnvoyInternalAddress) in
    m.serverListenerName = "a"
  },
  .init("EnvoyInternalAddress.endpoint_id #2", [0x12, 0x01, 0x61]) { (m: inout Envoy_Config_Core_V3_EnvoyInternalAddress) in
    m.endpointID = "a"
  },
  // envoy.type.v3, google.rpc, grpc.health.v1
  .init("HttpStatus.code #1", [0x08, 0x93, 0x03]) { (m: inout Envoy_Type_V3_HttpStatus) in m.code = .forbidden },
  .init("Status.code #1", [0x08, 0x05]) { (m: inout Google_Rpc_Status) in m.code = 5 },
  .init("Status.message #2", [0x12, 0x01, 0x61]) { (m: inout Google_Rpc_Status) in m.message = "a" },
  .init("Status.details #3", [0x1A, 0x00]) { (m: inout Google_Rpc_Status) in m.details = [.init()] },
  .init("HealthCheckRequest.service #1", [0x0A, 0x01, 0x61]) { (m: inout Grpc_Health_V1_HealthCheckRequest) in m.service = "a" },
  .init("HealthCheckResponse.status #1", [0x08, 0x02]) { (m: inout Grpc_Health_V1_HealthCheckResponse) in m.status = .notServing },
  .init("HealthListResponse.statuses #1", [0x0A, 0x05, 0x0A, 0x01, 0x61, 0x12, 0x00]) { (m: inout Grpc_Health_V1_HealthListResponse) in
    m.statuses = ["a": .init()]
  },
]

@Suite("Field numbers")
struct FieldNumberTests {
  @Test(arguments: everyField)
  func singleField(_ field: SingleField) throws {
    let encoded = try field.encode()
    #expect(encoded == field.expected, "\(field.name): encoded \(hex(encoded)), expected \(hex(field.expected))")
  }

  @Test func statusCodeValues() {
    let expected: [Int] = [
      0, 100,
      200, 201, 202, 203, 204, 205, 206, 207, 208, 226,
      300, 301, 302, 303, 304, 305, 307, 308,
      400, 401, 402, 403, 404, 405, 406, 407, 408, 409, 410, 411, 412, 413, 414, 415, 416, 417,
      421, 422, 423, 424, 426, 428, 429, 431,
      500, 501, 502, 503, 504, 505, 506, 507, 508, 510, 511,
    ]
    #expect(Envoy_Type_V3_StatusCode.allCases.map(\.rawValue) == expected)
    #expect(Envoy_Type_V3_StatusCode.ok.rawValue == 200)
    #expect(Envoy_Type_V3_StatusCode.unauthorized.rawValue == 401)
    #expect(Envoy_Type_V3_StatusCode.forbidden.rawValue == 403)
    #expect(Envoy_Type_V3_StatusCode.tooManyRequests.rawValue == 429)
    #expect(Envoy_Type_V3_StatusCode.serviceUnavailable.rawValue == 503)
    #expect(Envoy_Type_V3_StatusCode.networkAuthenticationRequired.rawValue == 511)
  }

  @Test func otherEnumValues() {
    #expect(Envoy_Config_Core_V3_HeaderValueOption.HeaderAppendAction.allCases.map(\.rawValue) == [0, 1, 2, 3])
    #expect(Envoy_Config_Core_V3_HeaderValueOption.HeaderAppendAction.overwriteIfExists.rawValue == 3)
    #expect(Envoy_Config_Core_V3_SocketAddress.ProtocolEnum.udp.rawValue == 1)
    #expect(Grpc_Health_V1_HealthCheckResponse.ServingStatus.allCases.map(\.rawValue) == [0, 1, 2, 3])
    #expect(Grpc_Health_V1_HealthCheckResponse.ServingStatus.serviceUnknown.rawValue == 3)
  }

  // Full names end up in gRPC paths and Any type URLs, so the packages must match upstream.
  @Test func fullMessageNames() {
    #expect(Envoy_Service_Auth_V3_CheckRequest.protoMessageName == "envoy.service.auth.v3.CheckRequest")
    #expect(Envoy_Service_Auth_V3_CheckResponse.protoMessageName == "envoy.service.auth.v3.CheckResponse")
    #expect(Envoy_Service_Auth_V3_AttributeContext.HttpRequest.protoMessageName == "envoy.service.auth.v3.AttributeContext.HttpRequest")
    #expect(Envoy_Config_Core_V3_HeaderValueOption.protoMessageName == "envoy.config.core.v3.HeaderValueOption")
    #expect(Envoy_Type_V3_HttpStatus.protoMessageName == "envoy.type.v3.HttpStatus")
    #expect(Google_Rpc_Status.protoMessageName == "google.rpc.Status")
    #expect(Grpc_Health_V1_HealthCheckResponse.protoMessageName == "grpc.health.v1.HealthCheckResponse")
  }
}
