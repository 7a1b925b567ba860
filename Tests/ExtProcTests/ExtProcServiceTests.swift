//===----------------------------------------------------------------------===//
// The ext_proc front: Process streams over our HTTP/2 server (swift-nio-http2's client in
// memory), each message answered with the decision the ext_authz front makes.
//===----------------------------------------------------------------------===//

import AugmenterCore
import AugmenterMetrics
import EnvoyAPI
import Foundation
import GRPC
import HTTP2
import NIOCore
import NIOHTTP2
import SwiftProtobuf
import TestSupport
import Testing

@testable import ExtProc

private typealias Request = Envoy_Service_ExtProc_V3_ProcessingRequest
private typealias Response = Envoy_Service_ExtProc_V3_ProcessingResponse

@Suite struct ExtProcServiceTests {
  /// A server whose Process method answers from `config`, its provider `sidecar` holding
  /// `authorization: Bearer provider-token`.
  private static func pair(_ config: AugmenterConfig, metrics: MetricsRegistry? = nil) throws -> InMemoryHTTP2 {
    let registry = ProviderRegistry(config: config)
    let clock = ManualClock()
    _ = registry.states[0].publish(
      [HeaderField(name: "authorization", value: "Bearer provider-token")], fetchedAt: clock.now(), fetchedAtWall: clock.wallNow())
    let decider = Decider(config: config, registry: registry)
    let service = ExtProcService(
      decider: decider, clock: clock,
      metrics: metrics.map { CheckMetrics(front: .extProc, sources: decider.outcomeSources, registry: $0) })
    return try InMemoryHTTP2(responder: GRPCRouter(methods: [ExtProcService.path: service.method], maxMessageBytes: 1 << 20))
  }

  private static func requestHeaders(_ headers: [(String, String)], observability: Bool = false) -> Request {
    var request = Request()
    request.requestHeaders = Envoy_Service_ExtProc_V3_HttpHeaders(headers)
    request.observabilityMode = observability
    return request
  }

  private static let get = [(":method", "GET"), (":path", "/orders?id=1"), (":authority", "api.example"), (":scheme", "http")]

  /// Sends `messages` on stream `id` (not ending it); returns the answers received so far.
  private static func send(_ pair: InMemoryHTTP2, stream id: Int, _ messages: [Request], open: Bool = true) throws -> [Response] {
    if open { try pair.sendHeaders(stream: id, path: ExtProcService.path) }
    for message in messages {
      try pair.sendData(stream: id, grpcFrame(try message.serializedBytes()), endStream: false)
    }
    return try Self.answers(pair, stream: id)
  }

  private static func answers(_ pair: InMemoryHTTP2, stream id: Int) throws -> [Response] {
    var body = pair.response(stream: id).body[...]
    var answers: [Response] = []
    while body.count >= 5 {
      let length =
        Int(body[body.startIndex + 1]) << 24 | Int(body[body.startIndex + 2]) << 16
        | Int(body[body.startIndex + 3]) << 8 | Int(body[body.startIndex + 4])
      let start = body.startIndex + 5
      answers.append(try Response(serializedBytes: Array(body[start..<(start + length)])))
      body = body[(start + length)...]
    }
    return answers
  }

  @Test func requestHeadersGetTheProviderHeadersAsOverwritesAndAForgedOneIsReplaced() throws {
    let pair = try Self.pair(try makeConfig())
    let answers = try Self.send(pair, stream: 1, [Self.requestHeaders(Self.get + [("authorization", "Bearer forged")])])
    #expect(answers.count == 1)
    guard case .requestHeaders(let headers)? = answers.first?.response else {
      Issue.record("expected a request_headers answer, got \(answers)")
      return
    }
    #expect(headers.response.status == .continue)
    let set = headers.response.headerMutation.setHeaders
    let pairs = set.map { "\($0.header.key)=\(String(decoding: $0.header.rawValue, as: UTF8.self))" }.sorted()
    #expect(pairs == ["authorization=Bearer provider-token", "x-static=static-value"])
    // Envoy reads raw_value only, and `append` false replaces the client's forged value.
    #expect(set.allSatisfy { $0.header.value.isEmpty && $0.hasAppend && !$0.append.value })
    #expect(!pair.response(stream: 1).ended, "the stream stays open for the response phase")
  }

  @Test func aDenyRuleIsAnImmediateResponseWithTheSameStatusHeadersAndBody() throws {
    let config = try ConfigLoader.parse(
      """
      providers:
        - {name: sidecar, url: "http://127.0.0.1:1/headers", ttl: 10s}
      rules:
        - match: {path_prefix: /admin/}
          deny: {status: 403, detail: "the admin area is closed"}
      """, environment: [:])
    let pair = try Self.pair(config)
    let answers = try Self.send(
      pair, stream: 1,
      [Self.requestHeaders([(":method", "GET"), (":path", "/admin/x"), (":authority", "a"), (":scheme", "http")])])
    guard case .immediateResponse(let immediate)? = answers.first?.response else {
      Issue.record("expected immediate_response, got \(answers)")
      return
    }
    #expect(immediate.status.code == .forbidden)
    let body = String(decoding: immediate.body, as: UTF8.self)
    #expect(body.contains("the admin area is closed"), "\(body)")
    let contentType = immediate.headers.setHeaders.first { $0.header.key == "content-type" }
    #expect(contentType.map { String(decoding: $0.header.rawValue, as: UTF8.self) } == "application/problem+json")
  }

  @Test func everyOtherPhaseIsAnsweredWithContinueOfItsOwnKind() throws {
    let pair = try Self.pair(try makeConfig())
    var responseHeaders = Request()
    responseHeaders.responseHeaders = Envoy_Service_ExtProc_V3_HttpHeaders()
    var requestBody = Request()
    requestBody.requestBody.body = Data("chunk".utf8)
    var responseBody = Request()
    responseBody.responseBody.endOfStream = true
    var requestTrailers = Request()
    requestTrailers.requestTrailers = Envoy_Service_ExtProc_V3_HttpTrailers()
    var responseTrailers = Request()
    responseTrailers.responseTrailers = Envoy_Service_ExtProc_V3_HttpTrailers()
    let answers = try Self.send(
      pair, stream: 1,
      [Self.requestHeaders(Self.get), requestBody, responseHeaders, responseBody, requestTrailers, responseTrailers])
    let kinds = answers.map { answer -> String in
      switch answer.response {
      case .requestHeaders?: "request_headers"
      case .responseHeaders(let h)?: h.response.hasHeaderMutation ? "changed" : "response_headers"
      case .requestBody(let b)?: b.hasResponse ? "changed" : "request_body"
      case .responseBody(let b)?: b.hasResponse ? "changed" : "response_body"
      case .requestTrailers(let t)?: t.hasHeaderMutation ? "changed" : "request_trailers"
      case .responseTrailers(let t)?: t.hasHeaderMutation ? "changed" : "response_trailers"
      default: "other"
      }
    }
    #expect(
      kinds == ["request_headers", "request_body", "response_headers", "response_body", "request_trailers", "response_trailers"])
    // Envoy ends its side when the request is done: the call ends with OK.
    try pair.sendData(stream: 1, [], endStream: true)
    #expect(pair.response(stream: 1).grpcStatus == 0)
  }

  @Test("decisions are counted under front ext_proc by outcome and rule; observed requests are not; a bad message is an error")
  func decisionsAreCounted() throws {
    let metrics = MetricsRegistry()
    let config = try ConfigLoader.parse(
      """
      providers:
        - {name: sidecar, url: "http://127.0.0.1:1/headers", ttl: 10s}
      rules:
        - {name: closed, match: {path_prefix: /closed}, deny: {status: 403}}
      """, environment: [:])
    let pair = try Self.pair(config, metrics: metrics)
    _ = try Self.send(pair, stream: 1, [Self.requestHeaders(Self.get)])
    _ = try Self.send(pair, stream: 3, [Self.requestHeaders([(":method", "GET"), (":path", "/closed/x")])])
    _ = try Self.send(pair, stream: 5, [Self.requestHeaders(Self.get, observability: true)])
    try pair.sendHeaders(stream: 7, path: ExtProcService.path)
    try pair.sendData(stream: 7, grpcFrame([0xFF, 0xFF, 0xFF]), endStream: false)
    let lines = metrics.exposition().split(separator: "\n")
    func value(_ series: String) -> String? {
      lines.first { $0.hasPrefix(series + " ") }.map { String($0.dropFirst(series.count + 1)) }
    }
    #expect(value(#"augmenter_checks_total{front="ext_proc",outcome="allow",rule="default",profile=""}"#) == "1")
    #expect(value(#"augmenter_checks_total{front="ext_proc",outcome="deny",rule="closed",profile=""}"#) == "1")
    #expect(value(#"augmenter_checks_total{front="ext_proc",outcome="error",rule="",profile=""}"#) == "1")
    #expect(value(#"augmenter_check_duration_seconds_count{front="ext_proc"}"#) == "3")
  }

  @Test func observabilityModeIsNeverAnswered() throws {
    let pair = try Self.pair(try makeConfig())
    let answers = try Self.send(pair, stream: 1, [Self.requestHeaders(Self.get, observability: true)])
    #expect(answers.isEmpty)
    try pair.sendData(stream: 1, [], endStream: true)
    #expect(pair.response(stream: 1).grpcStatus == 0)
  }

  @Test func aMessageWithoutAPhaseOrNotProtobufEndsTheCallWithInvalidArgument() throws {
    let pair = try Self.pair(try makeConfig())
    _ = try Self.send(pair, stream: 1, [Request()])
    #expect(pair.response(stream: 1).grpcStatus == 3)
    #expect(pair.response(stream: 1).grpcMessage?.contains("no request phase") == true)

    try pair.sendHeaders(stream: 3, path: ExtProcService.path)
    try pair.sendData(stream: 3, grpcFrame([0xFF, 0xFF, 0xFF]), endStream: false)
    #expect(pair.response(stream: 3).grpcStatus == 3)
    #expect(pair.response(stream: 3).grpcMessage?.contains("not a valid protobuf message") == true)
  }

  @Test func manyRequestsEachOnTheirOwnStreamOfOneConnection() throws {
    let pair = try Self.pair(try makeConfig())
    for index in 0..<200 {
      let id = 1 + 2 * index
      let answers = try Self.send(pair, stream: id, [Self.requestHeaders(Self.get + [("x-request-id", "r\(index)")])])
      guard case .requestHeaders? = answers.first?.response else {
        Issue.record("stream \(id): \(answers)")
        return
      }
    }
    for index in 0..<200 {
      try pair.sendData(stream: 1 + 2 * index, [], endStream: true)
      #expect(pair.response(stream: 1 + 2 * index).grpcStatus == 0)
    }
  }

  @Test func sourceAddressComesFromTheRequestAttribute() {
    func attributes(_ address: String) -> [String: Google_Protobuf_Struct] {
      var fields = Google_Protobuf_Struct()
      fields.fields["source.address"] = Google_Protobuf_Value(stringValue: address)
      return ["envoy.filters.http.ext_proc": fields]
    }
    #expect(ExtProcService.sourceAddress(attributes("203.0.113.9:5123")) == "203.0.113.9")
    #expect(ExtProcService.sourceAddress(attributes("[2001:db8::1]:443")) == "2001:db8::1")
    #expect(ExtProcService.sourceAddress(attributes("2001:db8::1")) == "2001:db8::1")
    #expect(ExtProcService.sourceAddress([:]) == nil)
  }
}
