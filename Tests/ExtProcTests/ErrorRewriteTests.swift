//===----------------------------------------------------------------------===//
// The ext_proc front's response phase: upstream errors rewritten into problem+json.
//===----------------------------------------------------------------------===//

import AugmenterCore
import EnvoyAPI
import Foundation
import SwiftProtobuf
import TestSupport
import Testing

@testable import ExtProc

@Suite struct ErrorRewriteTests {
  private static let config = """
    providers:
      - {name: sidecar, url: "http://127.0.0.1:1/headers", ttl: 10s}
    problem_types:
      "503": {type: "https://errors.example/unavailable", title: "Try again later"}
    error_responses:
      statuses: [404, 500-599]
      path_prefixes: [/api/]
    """

  private static func service(quote: Int = 0) throws -> ExtProcService {
    let config = try ConfigLoader.parse(Self.config + "\n  quote_body_bytes: \(quote)", environment: [:])
    return ExtProcService(
      decider: Decider(config: config, registry: ProviderRegistry(config: config)), clock: ManualClock(),
      errorResponses: config.errorResponses, problemTypes: config.problemTypes)
  }

  private static func rewrite(
    status: String, contentType: String? = "text/html", method: String = "GET", path: String = "/api/orders?id=1"
  ) throws -> Envoy_Service_ExtProc_V3_HeadersResponse {
    var pairs = [(":status", status), ("content-encoding", "gzip")]
    if let contentType { pairs.append(("content-type", contentType)) }
    var state = ExtProcService.RequestState(method: method, path: path, requestID: "req-42")
    let response = try Self.service().answer(responseHeaders: Envoy_Service_ExtProc_V3_HttpHeaders(pairs), state: &state)
    #expect(!response.hasModeOverride)
    return response.responseHeaders
  }

  private static func text(_ data: Data) -> String { String(decoding: data, as: UTF8.self) }

  private static func document(_ data: Data) throws -> [String: Any] {
    try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any], "not a JSON object: \(Self.text(data))")
  }

  /// An upstream error's headers (`text/plain`, with `extra`), then its body, through a service
  /// quoting `quote` bytes: the two answers.
  private static func quoted(
    status: String = "500", quote: Int, body: String, extra: [(String, String)] = [], headersEndStream: Bool = false
  ) throws -> (headers: Envoy_Service_ExtProc_V3_ProcessingResponse, body: Envoy_Service_ExtProc_V3_BodyResponse) {
    let service = try Self.service(quote: quote)
    var state = ExtProcService.RequestState(method: "GET", path: "/api/orders", requestID: "req-7")
    var headers = Envoy_Service_ExtProc_V3_HttpHeaders([(":status", status), ("content-type", "text/plain")] + extra)
    headers.endOfStream = headersEndStream
    let headersAnswer = service.answer(responseHeaders: headers, state: &state)
    var message = Envoy_Service_ExtProc_V3_HttpBody()
    message.body = Data(body.utf8)
    message.endOfStream = true
    return (headersAnswer, service.answer(responseBody: message, state: &state))
  }

  @Test("quote_body_bytes: the headers answer asks for the body (BUFFERED for this response only), the body answer quotes it")
  func theUpstreamBodyIsQuotedInDetail() throws {
    let (headers, body) = try Self.quoted(quote: 64, body: "  database \"orders\" is down\n")
    #expect(headers.hasModeOverride)
    #expect(headers.modeOverride.responseBodyMode == .buffered)
    #expect(!headers.responseHeaders.hasResponse, "the headers wait for the body: \(headers)")
    let set = Dictionary(
      uniqueKeysWithValues: body.response.headerMutation.setHeaders.map { ($0.header.key, Self.text($0.header.rawValue)) })
    #expect(set["content-type"] == "application/problem+json")
    #expect(set["content-length"] == String(body.response.bodyMutation.body.count))
    #expect(body.response.status == .continue)
    let document = try Self.document(body.response.bodyMutation.body)
    #expect(
      document["detail"] as? String == "The upstream service answered 500 Internal Server Error. It said: database \"orders\" is down")
    #expect(document["instance"] as? String == "req-7")
  }

  @Test("a body over the bound is cut at a character boundary and marked; an empty body is not quoted")
  func theQuoteIsBounded() throws {
    // "é" is two bytes: a bound of 12 ends after the sixth, one of 11 inside it.
    for (bound, kept) in [(12, "éééééé"), (11, "ééééé"), (1, "")] {
      let (_, long) = try Self.quoted(quote: bound, body: "ééééééé and much more")
      let detail = try #require(try Self.document(long.response.bodyMutation.body)["detail"] as? String)
      let expected = kept.isEmpty ? "Error." : "It said: \(kept)…"
      #expect(detail.hasSuffix(expected), "bound \(bound): \(detail)")
      #expect(!detail.contains("\u{FFFD}"))
    }
    let (_, empty) = try Self.quoted(quote: 12, body: " \n")
    #expect(
      try Self.document(empty.response.bodyMutation.body)["detail"] as? String == "The upstream service answered 500 Internal Server Error."
    )
  }

  @Test("a quote is not asked for when no body follows or it is content-encoded: the headers are replaced at once")
  func unquotableBodiesAreReplacedAtOnce() throws {
    for (extra, endStream) in [([("content-encoding", "gzip")], false), ([], true)] {
      let (headers, body) = try Self.quoted(quote: 64, body: "x", extra: extra, headersEndStream: endStream)
      #expect(!headers.hasModeOverride, "\(extra) \(endStream)")
      #expect(headers.responseHeaders.response.status == .continueAndReplace)
      #expect(!body.hasResponse, "no body rewrite is pending: \(body)")
    }
    // identity is no encoding.
    let (identity, _) = try Self.quoted(quote: 64, body: "x", extra: [("content-encoding", "identity")])
    #expect(identity.hasModeOverride)
  }

  @Test("a response to a request Augmenter answered itself is never rewritten")
  func localAnswersAreNotWrappedTwice() throws {
    let service = try Self.service()
    var state = ExtProcService.RequestState(method: "GET", path: "/api/x", requestID: nil)
    state.answeredLocally = true
    let answer = service.answer(
      responseHeaders: Envoy_Service_ExtProc_V3_HttpHeaders([(":status", "503"), ("content-type", "text/plain")]), state: &state)
    #expect(!answer.responseHeaders.hasResponse)
  }

  @Test func aSelectedUpstreamErrorBecomesAProblemDocument() throws {
    let answer = try Self.rewrite(status: "503")
    #expect(answer.response.status == .continueAndReplace)
    let set = answer.response.headerMutation.setHeaders.map { ($0.header.key, String(decoding: $0.header.rawValue, as: UTF8.self)) }
    #expect(set.map(\.0) == ["content-type"])
    #expect(set.first?.1 == "application/problem+json")
    #expect(answer.response.headerMutation.setHeaders.allSatisfy { $0.hasAppend && !$0.append.value })
    #expect(answer.response.headerMutation.removeHeaders == ["content-encoding"])
    let body = try #require(
      try JSONSerialization.jsonObject(with: answer.response.bodyMutation.body) as? [String: Any])
    #expect(body["type"] as? String == "https://errors.example/unavailable")
    #expect(body["title"] as? String == "Try again later")
    #expect(body["status"] as? Int == 503)
    #expect(body["instance"] as? String == "req-42")
    #expect((body["detail"] as? String)?.contains("503") == true)

    let notFound = try Self.rewrite(status: "404")
    let document = try #require(try JSONSerialization.jsonObject(with: notFound.response.bodyMutation.body) as? [String: Any])
    #expect(document["type"] as? String == "about:blank")
    #expect(document["title"] as? String == "Not Found")
  }

  @Test(
    "left alone: 2xx, statuses outside the ranges, problem+json and gRPC answers, HEAD, paths outside the prefixes",
    arguments: [
      ("200", "text/html", "GET", "/api/x"), ("403", "text/html", "GET", "/api/x"), ("302", nil, "GET", "/api/x"),
      ("503", "application/problem+json", "GET", "/api/x"), ("503", "application/grpc+proto", "POST", "/api/x"),
      ("500", "text/plain", "HEAD", "/api/x"), ("500", "text/plain", "GET", "/other/api/x"), ("500", "text/plain", "GET", "/apix"),
    ] as [(String, String?, String, String)])
  func leftAlone(status: String, contentType: String?, method: String, path: String) throws {
    let answer = try Self.rewrite(status: status, contentType: contentType, method: method, path: path)
    #expect(!answer.hasResponse, "\(status) \(contentType ?? "-") \(method) \(path) was rewritten")
  }

  @Test func statusesAndPrefixesAreValidatedWithTheirKeyPaths() {
    let bad = """
      error_responses:
        statuses: [404, 399, 500-400, "5xx", 500-599]
        path_prefixes: [/api/, api]
        quote_body_bytes: 100000
      """
    do {
      _ = try ConfigLoader.parse(bad, environment: [:])
      Issue.record("accepted \(bad)")
    } catch {
      let problems = error.problems.map { "\($0.keyPath): \($0.message)" }
      #expect(problems.contains { $0.hasPrefix("error_responses.statuses[1]:") && $0.contains("\"399\"") }, "\(problems)")
      #expect(problems.contains { $0.hasPrefix("error_responses.statuses[2]:") }, "\(problems)")
      #expect(problems.contains { $0.hasPrefix("error_responses.statuses[3]:") && $0.contains("5xx") }, "\(problems)")
      #expect(problems.contains { $0.hasPrefix("error_responses.path_prefixes[1]:") }, "\(problems)")
      #expect(problems.contains { $0.hasPrefix("error_responses.quote_body_bytes:") && $0.contains("16384") }, "\(problems)")
      #expect(problems.count == 5, "\(problems)")
    }
  }

  @Test func withoutTheSectionNothingIsRewritten() throws {
    let config = try makeConfig()
    #expect(!config.errorResponses.isEnabled)
    let service = ExtProcService(decider: Decider(config: config, registry: ProviderRegistry(config: config)), clock: ManualClock())
    var state = ExtProcService.RequestState(method: "GET", path: "/", requestID: nil)
    let answer = service.answer(responseHeaders: Envoy_Service_ExtProc_V3_HttpHeaders([(":status", "500")]), state: &state)
    #expect(!answer.responseHeaders.hasResponse)
  }
}
