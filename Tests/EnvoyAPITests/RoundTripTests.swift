//===----------------------------------------------------------------------===//
// EnvoyAPI tests: Binary round trips.
//===----------------------------------------------------------------------===//

import EnvoyAPI
import Foundation
import SwiftProtobuf
import Testing

@Suite("Binary round trips")
struct RoundTripTests {
  /// Encodes, decodes, and checks both value equality and byte-for-byte re-encoding.
  private func roundTrip<M: SwiftProtobuf.Message & Equatable>(_ message: M) throws -> M {
    let bytes = try deterministicBytes(message)
    let decoded = try M(serializedBytes: bytes)
    #expect(decoded == message)
    #expect(try deterministicBytes(decoded) == bytes)
    #expect(decoded.unknownFields.data.isEmpty)
    return decoded
  }

  /// Text format lists only fields that are set, so this proves the fixture is fully populated.
  private func expectFieldsSet(_ message: some SwiftProtobuf.Message, _ names: [String]) {
    let text = message.textFormatString()
    for name in names {
      #expect(text.contains("\(name): ") || text.contains("\(name) {"), "field \(name) is not set")
    }
  }

  @Test func fullyPopulatedCheckRequest() throws {
    let request = Fixtures.fullCheckRequest()
    expectFieldsSet(
      request,
      [
        "attributes",
        // AttributeContext
        "source", "destination", "request", "context_extensions", "metadata_context", "tls_session",
        "route_metadata_context",
        // Peer
        "address", "service", "labels", "principal", "certificate",
        // SocketAddress / Pipe
        "socket_address", "protocol", "port_value", "resolver_name", "ipv4_compat",
        "network_namespace_filepath", "pipe", "mode", "path",
        // Request / HttpRequest
        "time", "http", "id", "method", "headers", "header_map", "host", "scheme", "query", "fragment",
        "size", "body", "raw_body",
        // HeaderValue, TLSSession, Metadata
        "key", "value", "raw_value", "sni", "filter_metadata", "typed_filter_metadata",
      ])

    let decoded = try roundTrip(request)
    let attributes = decoded.attributes
    #expect(attributes.source.address.socketAddress.portValue == 43_210)
    #expect(attributes.source.address.socketAddress.protocol == .udp)
    #expect(attributes.destination.address.pipe.path == "/run/envoy.sock")
    #expect(attributes.request.http.headerMap.headers.map(\.rawValue) == [Data([0x00, 0xFF, 0x80, 0x7F]), Data("second".utf8)])
    #expect(attributes.request.http.rawBody == Data([0xDE, 0xAD, 0xBE, 0xEF]))
    #expect(attributes.contextExtensions == ["tenant": "acme", "route": "items"])
    #expect(attributes.tlsSession.sni == "api.example.com")
    #expect(attributes.metadataContext.filterMetadata["envoy.filters.http.ext_authz"]?.fields["tag"]?.stringValue == "dynamic")
    let typed = try #require(attributes.routeMetadataContext.typedFilterMetadata["typed"])
    #expect(try Google_Protobuf_StringValue(unpackingAny: typed).value == "route")
  }

  @Test(arguments: [
    ("pipe", Fixtures.pipeAddress()),
    ("envoy_internal_address", Fixtures.internalAddress()),
    ("named_port", Fixtures.namedPortAddress()),
  ])
  func otherAddressVariants(name: String, address: Envoy_Config_Core_V3_Address) throws {
    var peer = Envoy_Service_Auth_V3_AttributeContext.Peer()
    peer.address = address
    let decoded = try roundTrip(peer)
    #expect(decoded.address.address == address.address)
    #expect(peer.textFormatString().contains(name))
  }

  @Test func okCheckResponse() throws {
    let response = Fixtures.okCheckResponse()
    expectFieldsSet(
      response.okResponse,
      [
        "headers", "dynamic_metadata", "headers_to_remove", "response_headers_to_add",
        "query_parameters_to_set", "query_parameters_to_remove",
        "header", "append", "append_action", "keep_empty_value", "raw_value",
      ])
    let decoded = try roundTrip(response)
    guard case .okResponse(let ok)? = decoded.httpResponse else {
      Issue.record("expected ok_response, got \(String(describing: decoded.httpResponse))")
      return
    }
    #expect(decoded.status.code == 0)
    #expect(ok.headers.map(\.header.key) == ["x-user", "x-tag"])
    #expect(ok.headers.map(\.hasAppend) == [true, true])
    #expect(ok.headers.map(\.append.value) == [false, true])
    #expect(ok.headers[0].appendAction == .overwriteIfExistsOrAdd)
    #expect(ok.headers[0].keepEmptyValue)
    #expect(ok.responseHeadersToAdd.first?.hasAppend == false)
    #expect(ok.responseHeadersToAdd.first?.appendAction == .addIfAbsent)
    #expect(ok.headersToRemove == ["authorization", "cookie"])
    #expect(ok.queryParametersToSet.map { [$0.key, $0.value] } == [["tenant", "acme"]])
    #expect(ok.queryParametersToRemove == ["token"])
    #expect(decoded.dynamicMetadata.fields["user"]?.stringValue == "alice")
  }

  @Test func deniedCheckResponse() throws {
    let decoded = try roundTrip(Fixtures.deniedCheckResponse())
    guard case .deniedResponse(let denied)? = decoded.httpResponse else {
      Issue.record("expected denied_response, got \(String(describing: decoded.httpResponse))")
      return
    }
    #expect(decoded.status.code == 7)
    #expect(decoded.status.message == "denied")
    #expect(decoded.status.details.first?.typeURL == "type.googleapis.com/google.protobuf.StringValue")
    #expect(denied.status.code == .unauthorized)
    #expect(denied.status.code.rawValue == 401)
    #expect(denied.body == "{\"title\":\"Unauthorized\"}")
    #expect(denied.headers.map(\.header.key) == ["content-type", "www-authenticate"])
    #expect(!denied.headers[0].hasAppend)
  }

  @Test func errorCheckResponse() throws {
    let decoded = try roundTrip(Fixtures.errorCheckResponse())
    guard case .errorResponse(let error)? = decoded.httpResponse else {
      Issue.record("expected error_response, got \(String(describing: decoded.httpResponse))")
      return
    }
    #expect(error.status.code == .serviceUnavailable)
    #expect(error.body == "try later")
  }

  @Test func healthMessages() throws {
    var request = Grpc_Health_V1_HealthCheckRequest()
    request.service = "envoy.service.auth.v3.Authorization"
    #expect(try roundTrip(request).service == "envoy.service.auth.v3.Authorization")

    for status in Grpc_Health_V1_HealthCheckResponse.ServingStatus.allCases {
      var response = Grpc_Health_V1_HealthCheckResponse()
      response.status = status
      #expect(try roundTrip(response).status == status)
    }

    var list = Grpc_Health_V1_HealthListResponse()
    for (name, status) in [("", .serving), ("a", .notServing), ("b", .unknown)]
      as [(String, Grpc_Health_V1_HealthCheckResponse.ServingStatus)]
    {
      var response = Grpc_Health_V1_HealthCheckResponse()
      response.status = status
      list.statuses[name] = response
    }
    #expect(try roundTrip(list).statuses.mapValues(\.status) == ["": .serving, "a": .notServing, "b": .unknown])
    #expect(try roundTrip(Grpc_Health_V1_HealthListRequest()) == Grpc_Health_V1_HealthListRequest())
  }

  @Test func unknownEnumValuesSurvive() throws {
    // An HttpStatus code we do not know still decodes and re-encodes unchanged.
    let decoded = try Envoy_Type_V3_HttpStatus(serializedBytes: [0x08, 0xA2, 0x03])  // 418
    #expect(decoded.code == .UNRECOGNIZED(418))
    #expect(try decoded.serializedBytes() == [0x08, 0xA2, 0x03] as [UInt8])
  }
}
