//===----------------------------------------------------------------------===//
// EnvoyAPI tests: Wire bytes assembled by hand.
//===----------------------------------------------------------------------===//

import EnvoyAPI
import Foundation
import SwiftProtobuf
import Testing

// Hand-assembled protobuf bytes. A field's tag byte is (number << 3) | wire type, where wire
// type 0 = varint and 2 = length-delimited; nested messages follow as <tag> <length> <payload>.
// If a field number in a .proto file were wrong, the encoded bytes would differ.
@Suite("Wire bytes assembled by hand")
struct WireFormatTests {
  private func expectWire<M: SwiftProtobuf.Message & Equatable>(
    _ message: M, _ expected: [UInt8], sourceLocation: SourceLocation = #_sourceLocation
  ) throws {
    let encoded: [UInt8] = try message.serializedBytes()
    #expect(encoded == expected, "encoded \(hex(encoded)), expected \(hex(expected))", sourceLocation: sourceLocation)
    // And the other direction: the hand-made bytes decode to the same message.
    #expect(try M(serializedBytes: expected) == message, sourceLocation: sourceLocation)
  }

  @Test func checkRequestHost() throws {
    var request = Envoy_Service_Auth_V3_CheckRequest()
    request.attributes.request.http.host = "a"
    try expectWire(
      request,
      [
        0x0A, 0x07,  // CheckRequest.attributes = #1, LEN, 7 bytes
        0x22, 0x05,  //   AttributeContext.request = #4, LEN
        0x12, 0x03,  //     Request.http = #2, LEN
        0x2A, 0x01, 0x61,  // HttpRequest.host = #5, LEN, "a"
      ])
  }

  @Test func httpRequestHeaderMapWithRawValue() throws {
    var header = Envoy_Config_Core_V3_HeaderValue()
    header.key = "k"
    header.rawValue = Data("v".utf8)
    var http = Envoy_Service_Auth_V3_AttributeContext.HttpRequest()
    http.headerMap.headers = [header]
    try expectWire(
      http,
      [
        0x6A, 0x08,  // HttpRequest.header_map = #13: (13 << 3) | 2 = 0x6A
        0x0A, 0x06,  //   HeaderMap.headers = #1
        0x0A, 0x01, 0x6B,  // HeaderValue.key = #1, "k"
        0x1A, 0x01, 0x76,  // HeaderValue.raw_value = #3, "v"
      ])
  }

  @Test func httpRequestRawBodyAndSize() throws {
    var http = Envoy_Service_Auth_V3_AttributeContext.HttpRequest()
    http.size = 300
    http.rawBody = Data([0x00, 0xFF])
    try expectWire(
      http,
      [
        0x48, 0xAC, 0x02,  // size = #9, varint: 300 = 0b10_0101100 -> 0xAC 0x02
        0x62, 0x02, 0x00, 0xFF,  // raw_body = #12, LEN
      ])
  }

  @Test func peerSocketAddress() throws {
    var attributes = Envoy_Service_Auth_V3_AttributeContext()
    attributes.source.address.socketAddress.address = "1.2.3.4"
    attributes.source.address.socketAddress.portValue = 8080
    attributes.destination.address.pipe.path = "p"
    try expectWire(
      attributes,
      [
        0x0A, 0x10,  // AttributeContext.source = #1
        0x0A, 0x0E,  //   Peer.address = #1
        0x0A, 0x0C,  //     Address.socket_address = #1
        0x12, 0x07, 0x31, 0x2E, 0x32, 0x2E, 0x33, 0x2E, 0x34,  // SocketAddress.address = #2, "1.2.3.4"
        0x18, 0x90, 0x3F,  // SocketAddress.port_value = #3, varint 8080 = 0x1F90
        0x12, 0x07,  // AttributeContext.destination = #2
        0x0A, 0x05,  //   Peer.address = #1
        0x12, 0x03,  //     Address.pipe = #2
        0x0A, 0x01, 0x70,  // Pipe.path = #1, "p"
      ])
  }

  @Test func attributeContextExtensionsTLSAndMetadata() throws {
    var attributes = Envoy_Service_Auth_V3_AttributeContext()
    attributes.contextExtensions = ["k": "v"]
    attributes.metadataContext = Envoy_Config_Core_V3_Metadata()
    attributes.tlsSession.sni = "s"
    attributes.routeMetadataContext = Envoy_Config_Core_V3_Metadata()
    try expectWire(
      attributes,
      [
        0x52, 0x06, 0x0A, 0x01, 0x6B, 0x12, 0x01, 0x76,  // context_extensions = #10, entry {key #1, value #2}
        0x5A, 0x00,  // metadata_context = #11, empty
        0x62, 0x03, 0x0A, 0x01, 0x73,  // tls_session = #12 { sni = #1 "s" }
        0x6A, 0x00,  // route_metadata_context = #13, empty
      ])
  }

  @Test func okHttpResponseHeaderWithAppend() throws {
    var ok = Envoy_Service_Auth_V3_OkHttpResponse()
    ok.headers = [Fixtures.header("x", "y", append: true)]
    try expectWire(ok, okHeaderBytes)
  }

  /// OkHttpResponse{headers: [{header: {key: "x", value: "y"}, append: {value: true}}]}
  private let okHeaderBytes: [UInt8] = [
    0x12, 0x0C,  // OkHttpResponse.headers = #2
    0x0A, 0x06,  //   HeaderValueOption.header = #1
    0x0A, 0x01, 0x78,  // HeaderValue.key = #1, "x"
    0x12, 0x01, 0x79,  // HeaderValue.value = #2, "y"
    0x12, 0x02,  //   HeaderValueOption.append = #2 (BoolValue)
    0x08, 0x01,  //     BoolValue.value = #1, true
  ]

  @Test func checkResponseOk() throws {
    var response = Envoy_Service_Auth_V3_CheckResponse()
    response.status = Google_Rpc_Status()
    var ok = Envoy_Service_Auth_V3_OkHttpResponse()
    ok.headers = [Fixtures.header("x", "y", append: true)]
    response.okResponse = ok
    try expectWire(
      response,
      [
        0x0A, 0x00,  // CheckResponse.status = #1, code 0 -> empty message
        0x1A, 0x0E,  // CheckResponse.ok_response = #3
      ] + okHeaderBytes)
  }

  @Test func checkResponseDenied() throws {
    var response = Envoy_Service_Auth_V3_CheckResponse()
    response.status.code = 7
    var denied = Envoy_Service_Auth_V3_DeniedHttpResponse()
    denied.status.code = .forbidden
    denied.body = "no"
    response.deniedResponse = denied
    try expectWire(
      response,
      [
        0x0A, 0x02, 0x08, 0x07,  // status = #1 { code = #1: 7 }
        0x12, 0x09,  // denied_response = #2
        0x0A, 0x03, 0x08, 0x93, 0x03,  //   DeniedHttpResponse.status = #1 { HttpStatus.code = #1: 403 }
        0x1A, 0x02, 0x6E, 0x6F,  //   DeniedHttpResponse.body = #3, "no"
      ])
  }

  @Test func checkResponseErrorAndDynamicMetadata() throws {
    var response = Envoy_Service_Auth_V3_CheckResponse()
    response.status.code = 14
    var error = Envoy_Service_Auth_V3_DeniedHttpResponse()
    error.status.code = .serviceUnavailable
    error.headers = [Fixtures.header("r", "1")]
    response.errorResponse = error
    response.dynamicMetadata.fields["k"] = Google_Protobuf_Value(stringValue: "v")
    try expectWire(
      response,
      [
        0x0A, 0x02, 0x08, 0x0E,  // status = #1 { code: 14 }
        0x22, 0x0A,  // dynamic_metadata = #4 (Struct)
        0x0A, 0x08,  //   Struct.fields = #1, map entry
        0x0A, 0x01, 0x6B,  //     key "k"
        0x12, 0x03, 0x1A, 0x01, 0x76,  //     value = Value { string_value = #3 "v" }
        0x2A, 0x0F,  // error_response = #5
        0x0A, 0x03, 0x08, 0xF7, 0x03,  //   status { code: 503 }
        0x12, 0x08,  //   headers = #2
        0x0A, 0x06, 0x0A, 0x01, 0x72, 0x12, 0x01, 0x31,  //     header { key "r", value "1" }
      ])
  }

  @Test func headerValueOptionActionAndKeepEmpty() throws {
    var option = Envoy_Config_Core_V3_HeaderValueOption()
    option.appendAction = .overwriteIfExists
    option.keepEmptyValue = true
    try expectWire(
      option,
      [
        0x18, 0x03,  // append_action = #3, OVERWRITE_IF_EXISTS = 3
        0x20, 0x01,  // keep_empty_value = #4, true
      ])
  }

  @Test func healthMessages() throws {
    var response = Grpc_Health_V1_HealthCheckResponse()
    response.status = .serving
    try expectWire(response, [0x08, 0x01])  // status = #1, SERVING = 1
    response.status = .notServing
    try expectWire(response, [0x08, 0x02])
    response.status = .serviceUnknown
    try expectWire(response, [0x08, 0x03])

    var request = Grpc_Health_V1_HealthCheckRequest()
    request.service = "x"
    try expectWire(request, [0x0A, 0x01, 0x78])  // service = #1

    var list = Grpc_Health_V1_HealthListResponse()
    list.statuses["a"] = .with { $0.status = .serving }
    try expectWire(
      list,
      [
        0x0A, 0x07,  // statuses = #1, map entry
        0x0A, 0x01, 0x61,  //   key "a"
        0x12, 0x02, 0x08, 0x01,  //   value { status: SERVING }
      ])
  }

  @Test func googleRpcStatus() throws {
    var status = Google_Rpc_Status()
    status.code = 16
    status.message = "m"
    status.details = [Google_Protobuf_Any()]
    try expectWire(
      status,
      [
        0x08, 0x10,  // code = #1: 16
        0x12, 0x01, 0x6D,  // message = #2: "m"
        0x1A, 0x00,  // details = #3: one empty Any
      ])
  }
}

func hex(_ bytes: [UInt8]) -> String {
  bytes.map { String(format: "%02X", $0) }.joined(separator: " ")
}
