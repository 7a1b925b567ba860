//===----------------------------------------------------------------------===//
// EnvoyAPI tests: ext_proc v3 messages, as bytes assembled by hand.
//===----------------------------------------------------------------------===//

import EnvoyAPI
import Foundation
import SwiftProtobuf
import Testing

// A field's tag byte is (number << 3) | wire type (0 varint, 2 length-delimited). The numbers
// were also checked against Envoy 1.40's own descriptors (`scripts/generate-protos
// --verify-envoy`); these bytes pin the shapes the ext_proc front will read and write.
@Suite("ext_proc wire bytes assembled by hand")
struct ExtProcWireFormatTests {
  @Test func requestHeadersWithRawValuesAndProtocolConfig() throws {
    // What Envoy sends first: request_headers (#2) { headers (#1) { headers (#1) { key ":path",
    // raw_value "/" } }, end_of_stream (#3) }, protocol_config (#11) { request_body_mode (#1) BUFFERED }.
    let bytes: [UInt8] =
      [0x12, 0x10, 0x0A, 0x0C, 0x0A, 0x0A, 0x0A, 0x05] + Array(":path".utf8) + [0x1A, 0x01, 0x2F, 0x18, 0x01]
      + [0x5A, 0x02, 0x08, 0x02]
    let request = try Envoy_Service_ExtProc_V3_ProcessingRequest(serializedBytes: bytes)
    guard case .requestHeaders(let headers)? = request.request else {
      Issue.record("decoded as \(String(describing: request.request))")
      return
    }
    #expect(headers.endOfStream)
    #expect(headers.headers.headers.map(\.key) == [":path"])
    #expect(headers.headers.headers.first?.rawValue == Data("/".utf8))
    #expect(request.protocolConfig.requestBodyMode == .buffered)
    let encoded: [UInt8] = try request.serializedBytes()
    #expect(encoded == bytes)
  }

  @Test func responseHeadersAnswerReplacingTheBody() throws {
    // The problem+json rewrite: response_headers (#2) { response (#1) { status (#1)
    // CONTINUE_AND_REPLACE, header_mutation (#2) { set_headers (#1) { header (#1) { key "a",
    // raw_value "b" } }, remove_headers (#2) "c" }, body_mutation (#3) { body (#1) "{}" } } }.
    var header = Envoy_Config_Core_V3_HeaderValueOption()
    header.header.key = "a"
    header.header.rawValue = Data("b".utf8)
    var common = Envoy_Service_ExtProc_V3_CommonResponse()
    common.status = .continueAndReplace
    common.headerMutation.setHeaders = [header]
    common.headerMutation.removeHeaders = ["c"]
    common.bodyMutation.body = Data("{}".utf8)
    var response = Envoy_Service_ExtProc_V3_ProcessingResponse()
    response.responseHeaders.response = common
    let encoded: [UInt8] = try response.serializedBytes()
    let expected: [UInt8] = [
      0x12, 0x19,  // ProcessingResponse.response_headers = #2
      0x0A, 0x17,  //   HeadersResponse.response = #1
      0x08, 0x01,  //     CommonResponse.status = #1, CONTINUE_AND_REPLACE
      0x12, 0x0D,  //     header_mutation = #2
      0x0A, 0x08, 0x0A, 0x06, 0x0A, 0x01, 0x61, 0x1A, 0x01, 0x62,  // set_headers { header { key "a", raw_value "b" } }
      0x12, 0x01, 0x63,  //   remove_headers = #2, "c"
      0x1A, 0x04, 0x0A, 0x02, 0x7B, 0x7D,  // body_mutation = #3 { body = #1, "{}" }
    ]
    #expect(encoded == expected, "encoded \(hex(encoded))")
  }

  @Test func immediateResponseWithStatusHeadersAndBody() throws {
    var immediate = Envoy_Service_ExtProc_V3_ImmediateResponse()
    immediate.status.code = .forbidden
    immediate.body = Data("no".utf8)
    immediate.details = "d"
    immediate.grpcStatus.status = 7
    var response = Envoy_Service_ExtProc_V3_ProcessingResponse()
    response.immediateResponse = immediate
    let encoded: [UInt8] = try response.serializedBytes()
    let expected: [UInt8] = [
      0x3A, 0x10,  // ProcessingResponse.immediate_response = #7
      0x0A, 0x03, 0x08, 0x93, 0x03,  // status = #1 { code = #1, 403 }
      0x1A, 0x02, 0x6E, 0x6F,  // body = #3, "no"
      0x22, 0x02, 0x08, 0x07,  // grpc_status = #4 { status = #1, 7 }
      0x2A, 0x01, 0x64,  // details = #5, "d"
    ]
    #expect(encoded == expected, "encoded \(hex(encoded))")
  }

  @Test func modeOverrideAndRequestDrain() throws {
    var response = Envoy_Service_ExtProc_V3_ProcessingResponse()
    response.responseHeaders = .init()
    response.modeOverride.responseBodyMode = .buffered
    response.modeOverride.responseTrailerMode = .skip
    let encoded: [UInt8] = try response.serializedBytes()
    let expected: [UInt8] = [
      0x12, 0x00,  // response_headers = #2, empty
      0x4A, 0x04, 0x20, 0x02, 0x30, 0x02,  // mode_override = #9 { response_body_mode = #4 BUFFERED, response_trailer_mode = #6 SKIP }
    ]
    #expect(encoded == expected, "encoded \(hex(encoded))")
  }
}
