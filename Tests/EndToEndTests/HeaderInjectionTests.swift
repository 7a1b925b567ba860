//===----------------------------------------------------------------------===//
// End-to-end tests: Header injection through Envoy.
//===----------------------------------------------------------------------===//

import Foundation
import TestSupport
import Testing

extension EndToEnd {
  /// Provider and static headers travel Envoy -> Augmenter -> Envoy -> upstream.
  @Suite("Header injection through Envoy")
  struct HeaderInjection {
    @Test("provider and static headers reach the upstream; client-sent values of injected names are replaced, not duplicated")
    func providerAndStaticHeadersReplaceClientValues() async throws {
      try await withTestScope { scope in
        let tokenFile = scope.file("provider-token")
        try "token-one".write(to: tokenFile, atomically: true, encoding: .utf8)
        let stack = try await Stack.start(
          scope: scope,
          answer: .headers([
            "authorization": "Bearer provider-secret-7d41",
            "x-tenant": "acme",
            "x-static": "from-provider",
          ])
        ) { config in
          config.staticHeaders = ["x-static": "from-config", "x-env": "e2e"]
          config.providers[0].tokenFile = tokenFile.path
        }
        try await stack.augmenter.waitUntilReady()

        let (response, received) = try await stack.send([
          HeaderField("authorization", "Bearer client-forged"),
          HeaderField("x-tenant", "forged-1"),
          HeaderField("x-tenant", "forged-2"),
          HeaderField("x-static", "client-static"),
          HeaderField("x-client", "keep-me"),
        ])
        #expect(response.status == 200, "\(response)")
        let upstream = try #require(received, "the request did not reach the upstream: \(response)")
        // Every value under each injected name, so a duplicate or a joined value fails too.
        #expect(upstream.values("authorization") == ["Bearer provider-secret-7d41"])
        #expect(upstream.values("x-tenant") == ["acme"])
        #expect(upstream.values("x-static") == ["from-config"], "static headers win over the provider's")
        #expect(upstream.values("x-env") == ["e2e"])
        #expect(upstream.values("x-client") == ["keep-me"], "headers Augmenter does not inject pass untouched")
        let leaked = upstream.headers.filter { $0.value.contains("forged") || $0.value.contains("client-static") }
        #expect(leaked.isEmpty, "client-sent values of injected names reached the upstream: \(leaked)")

        // The provider was asked with the configured authority and the token from the file.
        let fetches = stack.provider.requests
        #expect(!fetches.isEmpty)
        for fetch in fetches {
          #expect(fetch.method == "GET")
          #expect(fetch.uri == "/headers")
          #expect(fetch.values("host") == ["sidecar.test"])
          #expect(fetch.values("authorization") == ["Bearer token-one"])
        }

        // Header values are never shown: not in /status, not in the log (log_level debug).
        let status = try await stack.augmenter.status()
        #expect(status.providers.first?.headerCount == 3)
        #expect(!status.response.text.contains("provider-secret-7d41"))
        #expect(!stack.augmenter.process.log().contains("provider-secret-7d41"), "a header value was logged")
      }
    }

    @Test("the provider changes its answer: the upstream sees the new set within ttl plus a margin, never a mix")
    func providerChangeIsSeenWithinTTL() async throws {
      try await withTestScope { scope in
        let stack = try await Stack.start(
          scope: scope, answer: .headers(["x-a": "v1", "x-b": "v1", "x-old": "only-in-v1"])
        ) { config in
          config.providers[0].ttl = "2s"
        }
        try await stack.augmenter.waitUntilReady()
        try await stack.waitForUpstream("the first answer") { $0.values("x-a") == ["v1"] }

        stack.provider.setAnswer(.headers(["x-a": "v2", "x-b": "v2"]))
        // ttl 2s + 3s margin: a bound on waiting, not a speed assertion.
        let seen = try await eventually("the upstream to see the provider's second answer", timeout: .seconds(5)) {
          () async throws -> ReceivedRequest? in
          let (response, received) = try await stack.send()
          let upstream = try #require(received, "the request did not reach the upstream: \(response)")
          let set = (upstream.values("x-a"), upstream.values("x-b"), upstream.values("x-old"))
          let isV1 = set == (["v1"], ["v1"], ["only-in-v1"])
          let isV2 = set == (["v2"], ["v2"], [])
          #expect(isV1 || isV2, "the upstream saw a mix of two answers: \(set)")
          return isV2 ? upstream : nil
        }
        #expect(seen.values("x-old") == [], "a header dropped by the provider must disappear")
        for _ in 0..<3 {
          let (_, received) = try await stack.send()
          #expect(received?.values("x-a") == ["v2"], "went back to an older answer")
        }
      }
    }

    @Test("a slow provider that answers within the timeout still refreshes the headers")
    func slowProviderWithinTimeout() async throws {
      try await withTestScope { scope in
        let stack = try await Stack.start(scope: scope, answer: .headers(["x-a": "fast"])) { config in
          config.providers[0].timeout = "1s"
        }
        try await stack.augmenter.waitUntilReady()
        var slow = ProviderAnswer.headers(["x-a": "slow"])
        slow.delay = .milliseconds(400)
        stack.provider.setAnswer(slow)
        try await stack.waitForUpstream("the slow provider's answer", timeout: .seconds(6)) {
          $0.values("x-a") == ["slow"]
        }
        let status = try #require(try await stack.augmenter.status().providers.first)
        #expect(status.consecutiveFailures == 0, "a slow answer within the timeout is not a failure")
      }
    }

    @Test("the bearer token file is re-read on each fetch")
    func tokenFileIsReRead() async throws {
      try await withTestScope { scope in
        let tokenFile = scope.file("provider-token")
        try "token-one".write(to: tokenFile, atomically: true, encoding: .utf8)
        let stack = try await Stack.start(scope: scope, answer: .headers(["x-a": "1"])) { config in
          config.providers[0].tokenFile = tokenFile.path
        }
        try await stack.provider.waitForRequests(atLeast: 1)
        #expect(stack.provider.requests.first?.values("authorization") == ["Bearer token-one"])
        try "token-two".write(to: tokenFile, atomically: true, encoding: .utf8)
        try await eventually("a provider fetch with the rotated token", timeout: .seconds(6)) {
          stack.provider.requests.last?.values("authorization") == ["Bearer token-two"] ? true : nil
        }
      }
    }
  }
}
