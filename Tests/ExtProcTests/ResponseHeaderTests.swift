//===----------------------------------------------------------------------===//
// The ext_proc front's response phase: a rule's `response_headers` on the upstream's answer.
//===----------------------------------------------------------------------===//

import AugmenterCore
import EnvoyAPI
import Foundation
import SwiftProtobuf
import TestSupport
import Testing

@testable import ExtProc

@Suite struct ResponseHeaderTests {
  private static let config = """
    providers:
      - {name: sidecar, url: "http://127.0.0.1:1/headers", ttl: 10s, required: false}
    error_responses:
      statuses: [500-599]
    rules:
      - name: closed
        match: {path_prefix: /closed}
        deny: {status: 403}
      - name: site
        match: {path_prefix: /site}
        allow:
          response_headers:
            strict-transport-security: max-age=63072000
            x-powered-by: {action: remove}
            cache-control: {value: no-store, action: add_if_absent}
            vary: {value: origin, action: append}
            content-type: text/html
    """

  /// The answer to the response headers `response` of a request for `path`.
  private static func respond(path: String, _ response: [(String, String)]) throws -> Envoy_Service_ExtProc_V3_ProcessingResponse {
    let config = try ConfigLoader.parse(Self.config, environment: [:])
    let service = ExtProcService(
      decider: Decider(config: config, registry: ProviderRegistry(config: config)), clock: ManualClock(),
      errorResponses: config.errorResponses)
    var state = ExtProcService.RequestState()
    var request = Envoy_Service_ExtProc_V3_ProcessingRequest()
    request.requestHeaders = Envoy_Service_ExtProc_V3_HttpHeaders([
      (":method", "GET"), (":path", path), (":authority", "a"), (":scheme", "http"),
    ])
    _ = try service.answer(request, peerIdentity: nil, state: &state)
    var reply = Envoy_Service_ExtProc_V3_ProcessingRequest()
    reply.responseHeaders = Envoy_Service_ExtProc_V3_HttpHeaders(response)
    return try #require(try service.answer(reply, peerIdentity: nil, state: &state))
  }

  private static func set(_ mutation: Envoy_Service_ExtProc_V3_HeaderMutation) -> [String: (String, Bool)] {
    Dictionary(
      mutation.setHeaders.map { ($0.header.key, (String(decoding: $0.header.rawValue, as: UTF8.self), $0.append.value)) },
      uniquingKeysWith: { first, _ in first })
  }

  @Test("an allowed request's response gets its rule's set, remove, append and add_if_absent actions")
  func actionsApplyToTheResponse() throws {
    let answer = try Self.respond(path: "/site/a", [(":status", "200"), ("content-type", "text/plain"), ("x-powered-by", "php")])
    let mutation = answer.responseHeaders.response.headerMutation
    let set = Self.set(mutation)
    #expect(answer.responseHeaders.response.status == .continue)
    #expect(set["strict-transport-security"]?.0 == "max-age=63072000")
    #expect(set["strict-transport-security"]?.1 == false)
    #expect(set["cache-control"]?.0 == "no-store")
    #expect(set["vary"]?.0 == "origin")
    #expect(set["vary"]?.1 == true)
    #expect(set["content-type"]?.0 == "text/html")
    #expect(mutation.removeHeaders == ["x-powered-by"])

    // add_if_absent leaves a response's own header alone.
    let cached = try Self.respond(path: "/site/a", [(":status", "200"), ("cache-control", "max-age=60")])
    #expect(Self.set(cached.responseHeaders.response.headerMutation)["cache-control"] == nil)
  }

  @Test("on a rewritten error the actions apply too, but the problem document keeps its content-type")
  func actionsApplyToRewrittenErrors() throws {
    let answer = try Self.respond(path: "/site/a", [(":status", "502"), ("content-type", "text/plain")])
    let common = answer.responseHeaders.response
    #expect(common.status == .continueAndReplace)
    let set = Self.set(common.headerMutation)
    #expect(set["content-type"]?.0 == "application/problem+json")
    #expect(set["strict-transport-security"]?.0 == "max-age=63072000")
    #expect(common.headerMutation.removeHeaders.contains("content-encoding"))
    #expect(common.headerMutation.removeHeaders.contains("x-powered-by"))
  }

  @Test("other rules' responses and responses to denied requests are left alone")
  func otherResponsesAreLeftAlone() throws {
    let other = try Self.respond(path: "/else", [(":status", "200")])
    #expect(!other.responseHeaders.hasResponse)
    // A 503 text/plain would be rewritten (error_responses: 500-599) were the request not
    // answered by Augmenter itself: the request phase's deny must mark it.
    let denied = try Self.respond(path: "/closed/x", [(":status", "503"), ("content-type", "text/plain")])
    #expect(!denied.responseHeaders.hasResponse)
    let allowed = try Self.respond(path: "/else", [(":status", "503"), ("content-type", "text/plain")])
    #expect(allowed.responseHeaders.response.status == .continueAndReplace, "the same response after an allow is rewritten")
  }

  @Test("response_headers are validated at their key paths: names, templates, content-length")
  func responseHeadersAreValidated() {
    let bad = """
      rules:
        - allow:
            response_headers:
              "bad name": x
              x-from-request: {template: "{path}"}
              content-length: "5"
      """
    do {
      _ = try ConfigLoader.parse(bad, environment: [:])
      Issue.record("accepted \(bad)")
    } catch {
      let problems = error.problems.map { "\($0.keyPath): \($0.message)" }
      #expect(problems.contains { $0.hasPrefix("rules[0].allow.response_headers.bad name:") }, "\(problems)")
      #expect(
        problems.contains { $0.hasPrefix("rules[0].allow.response_headers.x-from-request:") && $0.contains("literal") }, "\(problems)")
      #expect(problems.contains { $0.hasPrefix("rules[0].allow.response_headers.content-length:") }, "\(problems)")
    }
  }
}
