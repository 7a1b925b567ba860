//===----------------------------------------------------------------------===//
// End-to-end tests: Provider failures and the stale window.
//===----------------------------------------------------------------------===//

import EnvoyAPI
import Foundation
import TestSupport
import Testing

/// How a provider fails in ``EndToEnd/ProviderFailures``.
enum ProviderFailure: String, CaseIterable, Sendable, CustomTestStringConvertible {
  case http500
  case timeout
  case garbageJSON

  var answer: ProviderAnswer {
    switch self {
    case .http500: .raw(status: 500, "internal error", contentType: "text/plain")
    case .timeout: .hang
    case .garbageJSON: .raw(status: 200, #"{"x-a": "unterminated"#)
    }
  }

  var testDescription: String { rawValue }
}

extension EndToEnd {
  /// A failing provider: the last good headers flow until ttl + max_stale, then `on_unavailable` decides.
  @Suite("Provider failures and the stale window")
  struct ProviderFailures {
    static let goodValue = "last-good-5c0e"

    @Test(
      "the provider starts failing: last good headers keep flowing, then deny gives 503 problem+json / allow passes without them",
      arguments: ProviderFailure.allCases, ["deny", "allow"])
    func failingProvider(failure: ProviderFailure, policy: String) async throws {
      try await withTestScope("failingProvider-\(failure.rawValue)-\(policy)") { scope in
        let stack = try await Stack.start(scope: scope, answer: .headers(["x-a": Self.goodValue])) { config in
          config.providers[0].ttl = "2s"
          config.providers[0].maxStale = "2s"
          config.providers[0].timeout = "500ms"
          config.onUnavailable = policy
          config.staticHeaders = ["x-static": "static"]
        }
        try await stack.augmenter.waitUntilReady()
        try await stack.waitForUpstream("the good headers") { $0.values("x-a") == [Self.goodValue] }

        let before = stack.provider.requestCount
        stack.provider.setAnswer(failure.answer)
        try await stack.provider.waitForRequests(atLeast: before + 1, timeout: .seconds(10))

        // The provider is failing now, well inside ttl + max_stale of the last success.
        let (response, received) = try await stack.send()
        #expect(response.status == 200, "\(response)")
        #expect(received?.values("x-a") == [Self.goodValue], "the last good headers must keep flowing")

        let failing = try await eventually("/status to report the failed fetch", timeout: .seconds(5)) {
          let provider = try await stack.augmenter.status().providers.first
          let reported = provider?.lastError != nil || provider?.lastRejection != nil
          return (provider?.consecutiveFailures ?? 0) >= 1 && reported ? provider : nil
        }
        #expect(failing.lastError?.contains(Self.goodValue) != true)

        // ttl 2s + max_stale 2s past the last success, plus a margin: a bound on waiting.
        if policy == "deny" {
          let denied = try await eventually("Envoy to deny once the headers are unusable", timeout: .seconds(12)) {
            () async throws -> HTTPResponse? in
            let (response, received) = try await stack.send()
            guard response.status != 200 else {
              #expect(received?.values("x-a") == [Self.goodValue], "before expiry only the last good headers may flow")
              return nil
            }
            #expect(received == nil, "a denied request reached the upstream")
            return response
          }
          #expect(denied.status == 503, "\(denied)")
          #expect(denied.header("content-type")?.hasPrefix("application/problem+json") == true, "\(denied)")
          let problem = try #require(denied.jsonObject(), "the 503 body is not a JSON object: \(denied.text)")
          #expect((problem["title"] as? String)?.isEmpty == false, "problem+json needs a title: \(denied.text)")
          #expect(problem["status"] as? Int == 503, "problem+json status member: \(denied.text)")
          #expect(!denied.text.contains(Self.goodValue))
          #expect(try await stack.augmenter.readyz() == 503, "/readyz must turn 503 once headers expire")
          let grpc = try await GRPCTestClient.connect(port: stack.augmenter.checkPort, scope: scope)
          let health = try await grpc.unary(path: GRPCPath.health, body: try Messages.healthBody(service: ""))
          #expect(health.grpcStatus == 0)
          #expect(try health.message(as: Grpc_Health_V1_HealthCheckResponse.self).status == .notServing)
        } else {
          let passed = try await eventually("Envoy to pass requests without the expired headers", timeout: .seconds(12)) {
            () async throws -> ReceivedRequest? in
            let (response, received) = try await stack.send()
            #expect(response.status == 200, "on_unavailable: allow must not deny: \(response)")
            guard let received, received.values("x-a") != [Self.goodValue] else { return nil }
            return received
          }
          #expect(passed.values("x-a") == [], "expired provider headers must not be sent")
        }

        // The provider recovers: headers flow again.
        stack.provider.setAnswer(.headers(["x-a": "recovered"]))
        try await stack.waitForUpstream("the recovered headers", timeout: .seconds(10)) {
          $0.values("x-a") == ["recovered"]
        }
      }
    }
  }
}
