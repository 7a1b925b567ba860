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

  private static func service() throws -> ExtProcService {
    let config = try ConfigLoader.parse(Self.config, environment: [:])
    return ExtProcService(
      decider: Decider(config: config, registry: ProviderRegistry(config: config)), clock: ManualClock(),
      errorResponses: config.errorResponses, problemTypes: config.problemTypes)
  }

  private static func headers(_ pairs: [(String, String)]) -> Envoy_Service_ExtProc_V3_HttpHeaders {
    var headers = Envoy_Service_ExtProc_V3_HttpHeaders()
    headers.headers.headers = pairs.map { key, value in
      var header = Envoy_Config_Core_V3_HeaderValue()
      header.key = key
      header.rawValue = Data(value.utf8)
      return header
    }
    return headers
  }

  private static func rewrite(
    status: String, contentType: String? = "text/html", method: String = "GET", path: String = "/api/orders?id=1"
  ) throws -> Envoy_Service_ExtProc_V3_HeadersResponse {
    var pairs = [(":status", status), ("content-encoding", "gzip")]
    if let contentType { pairs.append(("content-type", contentType)) }
    let state = ExtProcService.RequestState(method: method, path: path, requestID: "req-42")
    return try Self.service().rewrite(Self.headers(pairs), state: state)
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
      #expect(problems.count == 4, "\(problems)")
    }
  }

  @Test func withoutTheSectionNothingIsRewritten() throws {
    let config = try makeConfig()
    #expect(!config.errorResponses.isEnabled)
    let service = ExtProcService(decider: Decider(config: config, registry: ProviderRegistry(config: config)), clock: ManualClock())
    let answer = service.rewrite(Self.headers([(":status", "500")]), state: .init(method: "GET", path: "/", requestID: nil))
    #expect(!answer.hasResponse)
  }
}
