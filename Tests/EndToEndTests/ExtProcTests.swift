//===----------------------------------------------------------------------===//
// End-to-end tests: the ext_proc front through a real Envoy (envoy/ext-proc.yaml).
//===----------------------------------------------------------------------===//

import Foundation
import TestSupport
import Testing

extension EndToEnd {
  /// Envoy's ext_proc filter opens one Process stream per request; Augmenter answers its
  /// request headers with the decision the ext_authz front makes.
  @Suite("ext_proc through Envoy")
  struct ExtProc {
    @Test("provider and static headers reach the upstream through ext_proc; a client's forged values are replaced")
    func headersAreInjected() async throws {
      try await withTestScope { scope in
        let stack = try await Stack.start(
          scope: scope, answer: .headers(["authorization": "Bearer provider-secret-51c2", "x-tenant": "acme"]),
          envoyConfig: "ext-proc.yaml"
        ) { config in
          config.staticHeaders = ["x-env": "e2e"]
        }
        try await stack.augmenter.waitUntilReady()
        for _ in 0..<5 {
          let (response, received) = try await stack.send([
            HeaderField("authorization", "Bearer client-forged"),
            HeaderField("x-tenant", "forged"),
            HeaderField("x-client", "keep-me"),
          ])
          #expect(response.status == 200, "\(response)")
          let upstream = try #require(received, "the request did not reach the upstream: \(response)")
          #expect(upstream.values("authorization") == ["Bearer provider-secret-51c2"])
          #expect(upstream.values("x-tenant") == ["acme"])
          #expect(upstream.values("x-env") == ["e2e"])
          #expect(upstream.values("x-client") == ["keep-me"])
        }
        #expect(!stack.augmenter.process.log().contains("provider-secret-51c2"), "a header value was logged")
      }
    }

    @Test("a deny rule reaches the client as Envoy's immediate response: status, problem+json, no upstream request")
    func denyIsAnImmediateResponse() async throws {
      try await withTestScope { scope in
        let stack = try await Stack.start(scope: scope, answer: .headers(["x-a": "1"]), envoyConfig: "ext-proc.yaml") { config in
          config.extraLines = [
            "rules:",
            "  - match: {path_prefix: /closed/}",
            "    deny: {status: 403, detail: \"the closed area is closed\"}",
          ]
        }
        try await stack.augmenter.waitUntilReady()
        let (response, received) = try await stack.send(label: "closed")
        #expect(response.status == 403, "\(response)")
        #expect(response.header("content-type") == "application/problem+json", "\(response)")
        #expect(response.text.contains("the closed area is closed"), "\(response)")
        #expect(received == nil, "a denied request reached the upstream")

        let (open, reached) = try await stack.send(label: "open")
        #expect(open.status == 200, "\(open)")
        #expect(reached?.values("x-a") == ["1"])
      }
    }
  }
}
