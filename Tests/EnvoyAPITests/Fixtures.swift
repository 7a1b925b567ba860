//===----------------------------------------------------------------------===//
// EnvoyAPI test support: messages and Any values as decoders produce them.
//===----------------------------------------------------------------------===//

import EnvoyAPI
import Foundation
import SwiftProtobuf

// Fully populated messages shared by the round-trip tests. Oneofs can hold only one
// case, so the other cases are covered by separate tests.
enum Fixtures {
  static func socketAddress() -> Envoy_Config_Core_V3_Address {
    var socket = Envoy_Config_Core_V3_SocketAddress()
    socket.protocol = .udp
    socket.address = "10.1.2.3"
    socket.portValue = 43_210
    socket.resolverName = "envoy.resolvers.test"
    socket.ipv4Compat = true
    socket.networkNamespaceFilepath = "/var/run/netns/ns1"
    var address = Envoy_Config_Core_V3_Address()
    address.socketAddress = socket
    return address
  }

  static func pipeAddress() -> Envoy_Config_Core_V3_Address {
    var pipe = Envoy_Config_Core_V3_Pipe()
    pipe.path = "/run/envoy.sock"
    pipe.mode = 0o600
    var address = Envoy_Config_Core_V3_Address()
    address.pipe = pipe
    return address
  }

  static func internalAddress() -> Envoy_Config_Core_V3_Address {
    var internalAddress = Envoy_Config_Core_V3_EnvoyInternalAddress()
    internalAddress.serverListenerName = "internal-listener"
    internalAddress.endpointID = "endpoint-7"
    var address = Envoy_Config_Core_V3_Address()
    address.envoyInternalAddress = internalAddress
    return address
  }

  static func namedPortAddress() -> Envoy_Config_Core_V3_Address {
    var socket = Envoy_Config_Core_V3_SocketAddress()
    socket.address = "::1"
    socket.namedPort = "https"
    var address = Envoy_Config_Core_V3_Address()
    address.socketAddress = socket
    return address
  }

  static func metadata(_ tag: String) -> Envoy_Config_Core_V3_Metadata {
    var metadata = Envoy_Config_Core_V3_Metadata()
    metadata.filterMetadata["envoy.filters.http.ext_authz"] = Google_Protobuf_Struct(fields: [
      "tag": Google_Protobuf_Value(stringValue: tag),
      "count": Google_Protobuf_Value(numberValue: 3),
      "flag": Google_Protobuf_Value(boolValue: true),
    ])
    metadata.typedFilterMetadata["typed"] = packed(Google_Protobuf_StringValue(tag))
    return metadata
  }

  /// An Any in the form a decoder produces (type URL + bytes). SwiftProtobuf's `==` does not
  /// treat an Any holding a message object as equal to one holding the same message's bytes.
  static func packed(_ message: some SwiftProtobuf.Message) -> Google_Protobuf_Any {
    let any = try! Google_Protobuf_Any(message: message)
    return try! Google_Protobuf_Any(serializedBytes: any.serializedBytes() as [UInt8])
  }

  static func header(_ key: String, _ value: String, append: Bool? = nil) -> Envoy_Config_Core_V3_HeaderValueOption {
    var option = Envoy_Config_Core_V3_HeaderValueOption()
    option.header.key = key
    option.header.value = value
    if let append {
      option.append = Google_Protobuf_BoolValue(append)
    }
    return option
  }

  /// A CheckRequest with every field of every message we define set.
  static func fullCheckRequest() -> Envoy_Service_Auth_V3_CheckRequest {
    var source = Envoy_Service_Auth_V3_AttributeContext.Peer()
    source.address = socketAddress()
    source.service = "frontend"
    source.labels = ["app": "web", "version": "v2"]
    source.principal = "spiffe://cluster.local/ns/default/sa/frontend"
    source.certificate = "-----BEGIN%20CERTIFICATE-----"

    var destination = Envoy_Service_Auth_V3_AttributeContext.Peer()
    destination.address = pipeAddress()
    destination.service = "backend"
    destination.labels = ["zone": "a"]
    destination.principal = "spiffe://cluster.local/ns/default/sa/backend"
    destination.certificate = "local-cert"

    var rawHeader = Envoy_Config_Core_V3_HeaderValue()
    rawHeader.key = "x-binary"
    rawHeader.value = "text"
    rawHeader.rawValue = Data([0x00, 0xFF, 0x80, 0x7F])
    var repeated = Envoy_Config_Core_V3_HeaderValue()
    repeated.key = "x-binary"
    repeated.rawValue = Data("second".utf8)

    var http = Envoy_Service_Auth_V3_AttributeContext.HttpRequest()
    http.id = "1234567890"
    http.method = "POST"
    http.headers = [":authority": "example.com", "x-request-id": "abc", "cookie": "a=1,b=2"]
    http.headerMap.headers = [rawHeader, repeated]
    http.path = "/api/v1/items?limit=10"
    http.host = "example.com"
    http.scheme = "https"
    http.query = "q"
    http.fragment = "frag"
    http.size = 42
    http.protocol = "HTTP/2"
    http.body = "{\"hello\":\"world\"}"
    http.rawBody = Data([0xDE, 0xAD, 0xBE, 0xEF])

    var request = Envoy_Service_Auth_V3_AttributeContext.Request()
    request.time = Google_Protobuf_Timestamp(seconds: 1_767_225_600, nanos: 123_000_000)
    request.http = http

    var tls = Envoy_Service_Auth_V3_AttributeContext.TLSSession()
    tls.sni = "api.example.com"

    var attributes = Envoy_Service_Auth_V3_AttributeContext()
    attributes.source = source
    attributes.destination = destination
    attributes.request = request
    attributes.contextExtensions = ["tenant": "acme", "route": "items"]
    attributes.metadataContext = metadata("dynamic")
    attributes.tlsSession = tls
    attributes.routeMetadataContext = metadata("route")

    var checkRequest = Envoy_Service_Auth_V3_CheckRequest()
    checkRequest.attributes = attributes
    return checkRequest
  }

  static func okHttpResponse() -> Envoy_Service_Auth_V3_OkHttpResponse {
    var setHeader = header("x-user", "alice", append: false)
    setHeader.appendAction = .overwriteIfExistsOrAdd
    setHeader.keepEmptyValue = true
    var addedHeader = header("x-tag", "b", append: true)
    addedHeader.header.rawValue = Data("b".utf8)
    var responseHeader = header("x-served-by", "augmenter")
    responseHeader.appendAction = .addIfAbsent

    var queryParameter = Envoy_Config_Core_V3_QueryParameter()
    queryParameter.key = "tenant"
    queryParameter.value = "acme"

    var ok = Envoy_Service_Auth_V3_OkHttpResponse()
    ok.headers = [setHeader, addedHeader]
    ok.dynamicMetadata = Google_Protobuf_Struct(fields: ["legacy": Google_Protobuf_Value(stringValue: "yes")])
    ok.headersToRemove = ["authorization", "cookie"]
    ok.responseHeadersToAdd = [responseHeader]
    ok.queryParametersToSet = [queryParameter]
    ok.queryParametersToRemove = ["token"]
    return ok
  }

  static func deniedHttpResponse(_ code: Envoy_Type_V3_StatusCode, body: String) -> Envoy_Service_Auth_V3_DeniedHttpResponse {
    var denied = Envoy_Service_Auth_V3_DeniedHttpResponse()
    denied.status.code = code
    denied.headers = [header("content-type", "application/problem+json"), header("www-authenticate", "Bearer")]
    denied.body = body
    return denied
  }

  static func rpcStatus(code: Int32, message: String) -> Google_Rpc_Status {
    var status = Google_Rpc_Status()
    status.code = code
    status.message = message
    status.details = [packed(Google_Protobuf_StringValue("detail"))]
    return status
  }

  static func okCheckResponse() -> Envoy_Service_Auth_V3_CheckResponse {
    var response = Envoy_Service_Auth_V3_CheckResponse()
    response.status = rpcStatus(code: 0, message: "")
    response.okResponse = okHttpResponse()
    response.dynamicMetadata = Google_Protobuf_Struct(fields: ["user": Google_Protobuf_Value(stringValue: "alice")])
    return response
  }

  static func deniedCheckResponse() -> Envoy_Service_Auth_V3_CheckResponse {
    var response = Envoy_Service_Auth_V3_CheckResponse()
    response.status = rpcStatus(code: 7, message: "denied")
    response.deniedResponse = deniedHttpResponse(.unauthorized, body: "{\"title\":\"Unauthorized\"}")
    response.dynamicMetadata = Google_Protobuf_Struct(fields: ["reason": Google_Protobuf_Value(stringValue: "no token")])
    return response
  }

  static func errorCheckResponse() -> Envoy_Service_Auth_V3_CheckResponse {
    var response = Envoy_Service_Auth_V3_CheckResponse()
    response.status = rpcStatus(code: 14, message: "overloaded")
    response.errorResponse = deniedHttpResponse(.serviceUnavailable, body: "try later")
    return response
  }
}

/// Serializes with sorted map keys so that equal messages give equal bytes.
func deterministicBytes(_ message: some SwiftProtobuf.Message) throws -> [UInt8] {
  var options = BinaryEncodingOptions()
  options.useDeterministicOrdering = true
  return try message.serializedBytes(options: options)
}
