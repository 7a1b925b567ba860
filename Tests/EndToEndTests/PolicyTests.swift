//===----------------------------------------------------------------------===//
// End-to-end tests: Policy recipes through Envoy.
//===----------------------------------------------------------------------===//

import Foundation
import TestSupport
import Testing

/// The README "Recipes": each seed filter's behaviour as a few lines of Augmenter configuration.
/// Each string is in the README verbatim (checked below) and is what the matching test runs.
enum PolicyRecipe {
  /// The "hello" filter: a header built from the request.
  static let templatedHeader = """
    headers:
      x-hello: {template: "Hello world from {authority}"}
    """

  /// The redirect filter: 302 to another host, keeping the path, for one client address.
  static let ipRedirect = """
    client_address: {from: header, header: x-real-ip}
    rules:
      - match: {client_cidr: [203.0.113.7/32]}
        redirect: {status: 302, location: "https://other-host.example{path}"}
    """

  /// The Sentinel filter: a flow rule of 10 requests per second.
  static let rateLimit = """
    problem_types:
      "429": {type: "https://errors.example/rate-limited", title: "Too many requests"}
    rules:
      - match: {path_prefix: /limited/}
        rate_limit: {key: "{authority}", requests_per_second: 10, burst: 10}
    """

  /// The WasmPlugin failStrategy, per route.
  static let failureStrategy = """
    on_unavailable: deny
    problem_types:
      "503": {type: "https://errors.example/headers-unavailable", title: "Headers unavailable"}
    rules:
      - match: {path_prefix: /open/}
        allow: {providers: [sidecar], on_unavailable: allow, headers: {x-route: open}}
      - match: {path_prefix: /closed/}
        allow: {providers: [sidecar], on_unavailable: deny, headers: {x-route: closed}}
    """

  /// One CUSTOM provider for many routes: Envoy's per-route context_extensions pick a profile.
  static let profiles = """
    profiles:
      tenant-a:
        providers: [sidecar]
        headers: {x-tenant: a, x-plan: gold}
      tenant-b:
        providers: [sidecar]
        headers: {x-tenant: {template: "{context:tenant}"}, x-plan: {action: remove}}
    rules:
      - match: {context_extensions: {tenant: a}}
        allow: {profile: tenant-a}
      - match: {context_extensions: {tenant: b}}
        allow: {profile: tenant-b}
    """

  /// Header actions.
  static let headerActions = """
    headers:
      x-set: {value: s}
      x-append: {value: a, action: append}
      x-add: {value: n, action: add_if_absent}
      x-gone: {action: remove}
    """

  /// A policy denial.
  static let deny = """
    rules:
      - match: {path_prefix: /admin/}
        deny: {status: 403, detail: "the admin area is closed"}
    """

  /// The custom-errors WasmPlugin: upstream 5xx under /api/ as problem+json (ext_proc).
  static let customErrors = """
    problem_types:
      "502": {type: "https://errors.example/bad-gateway", title: "The service is having trouble"}
      "503": {type: "https://errors.example/unavailable", title: "The service is having trouble"}
    error_responses:
      statuses: [500-599]
      path_prefixes: [/api/]
    """

  static let all: [(String, String)] = [
    ("templatedHeader", templatedHeader), ("ipRedirect", ipRedirect), ("rateLimit", rateLimit),
    ("failureStrategy", failureStrategy), ("profiles", profiles), ("headerActions", headerActions), ("deny", deny),
    ("customErrors", customErrors),
  ]
}

extension EndToEnd {
  /// The seed filters' behaviours as policy, through the real Envoy 1.40, in gRPC and HTTP mode.
  @Suite("Policy recipes through Envoy")
  struct PolicyRecipes {
    @Test("templated header: x-hello: Hello world from <authority>, replacing a client's value", arguments: PolicyMode.allCases)
    func templatedHeader(mode: PolicyMode) async throws {
      try await withTestScope("templatedHeader-\(mode)") { scope in
        let stack = try await PolicyStack.start(scope: scope, mode: mode, policy: PolicyRecipe.templatedHeader)
        let (response, received, _) = try await stack.send("/hello", headers: [HeaderField("x-hello", "forged")])
        #expect(response.status == 200, "\(response)")
        let upstream = try #require(received, "the request did not reach the upstream: \(response)")
        #expect(upstream.values("x-hello") == ["Hello world from \(stack.authority)"])
        #expect(upstream.values("authorization") == ["Bearer provider-token-3f9a"], "provider headers still flow")
      }
    }

    @Test("IP-matched redirect: 302 to the other host with the original path; other clients pass", arguments: PolicyMode.allCases)
    func ipRedirect(mode: PolicyMode) async throws {
      try await withTestScope("ipRedirect-\(mode)") { scope in
        let stack = try await PolicyStack.start(scope: scope, mode: mode, policy: PolicyRecipe.ipRedirect)
        let (redirected, reached, uri) = try await stack.send("/orders/7?x=1", headers: [HeaderField("x-real-ip", "203.0.113.7")])
        #expect(redirected.status == 302, "\(redirected)")
        #expect(redirected.header("location") == "https://other-host.example\(uri)")
        #expect(reached == nil, "a redirected request must not reach the upstream")

        for client in ["203.0.113.8", "2001:db8::7"] {
          let (passed, received, _) = try await stack.send("/orders/7", headers: [HeaderField("x-real-ip", client)])
          #expect(passed.status == 200, "client \(client): \(passed)")
          #expect(received?.values("authorization") == ["Bearer provider-token-3f9a"])
        }
        let (noHeader, _, _) = try await stack.send("/orders/7")
        #expect(noHeader.status == 200, "no x-real-ip: no match: \(noHeader)")
      }
    }

    @Test(
      "rate limit: 10 per second, burst 10: the 11th request at once is a 429 with the headers and problem+json",
      arguments: PolicyMode.allCases)
    func rateLimit(mode: PolicyMode) async throws {
      try await withTestScope("rateLimit-\(mode)") { scope in
        let stack = try await PolicyStack.start(scope: scope, mode: mode, policy: PolicyRecipe.rateLimit)
        // "At once" means within 1/rate (100 ms): later, a token comes back and an 11th may pass.
        // A burst that took longer (a busy machine) proves nothing either way, so it is repeated
        // once the bucket is full again; the assertions are on the first burst that was quick.
        let clock = ContinuousClock()
        var responses: [HTTPResponse] = []
        var elapsed = Duration.zero
        for attempt in 1...4 {
          if attempt > 1 { try await Task.sleep(for: .milliseconds(1100)) }
          let started = clock.now
          responses = try await withThrowingTaskGroup(of: HTTPResponse.self) { group in
            for _ in 0..<11 {
              group.addTask { try await stack.send("/limited/x").response }
            }
            var all: [HTTPResponse] = []
            for try await response in group { all.append(response) }
            return all
          }
          elapsed = clock.now - started
          if elapsed < .milliseconds(100) { break }
          print("rateLimit-\(mode): burst \(attempt) took \(elapsed) (statuses \(responses.map(\.status))); repeating")
        }
        let limited = responses.filter { $0.status == 429 }
        let passed = responses.filter { $0.status == 200 }.count
        #expect(elapsed < .milliseconds(100), "no burst of 11 requests completed within 100 ms")
        #expect(passed == 10, "\(responses.map(\.status)) in \(elapsed)")
        #expect(limited.count == 1, "11 requests sent at once (they took \(elapsed)): \(responses.map(\.status))")
        if let answer = limited.first {
          #expect(answer.header("retry-after") == "1")
          #expect(answer.header("ratelimit-limit") == "10")
          #expect(answer.header("ratelimit-remaining") == "0")
          #expect(answer.header("ratelimit-reset") == "1")
          let problem = try answer.policyProblem(status: 429)
          #expect(problem["type"] as? String == "https://errors.example/rate-limited")
          #expect(problem["title"] as? String == "Too many requests")
          #expect((problem["detail"] as? String)?.contains("10 requests per second") == true)
        }
        // Other paths are not limited.
        #expect(try await stack.send("/free").response.status == 200)
      }
    }

    @Test("failure strategy per route with the provider down: fail-open passes, fail-closed answers 503", arguments: PolicyMode.allCases)
    func failOpenFailClosed(mode: PolicyMode) async throws {
      try await withTestScope("failOpenFailClosed-\(mode)") { scope in
        let stack = try await PolicyStack.start(
          scope: scope, mode: mode, policy: PolicyRecipe.failureStrategy,
          providerAnswer: .raw(status: 500, "down", contentType: "text/plain"), waitForReady: false)
        try await stack.provider.waitForRequests(atLeast: 1)

        let (open, openReceived, _) = try await stack.send("/open/1")
        #expect(open.status == 200, "\(open)")
        let upstream = try #require(openReceived, "fail-open must reach the upstream: \(open)")
        #expect(upstream.values("x-route") == ["open"])
        #expect(upstream.values("authorization") == [], "no provider headers while it is down")

        let (closed, closedReceived, _) = try await stack.send("/closed/1")
        #expect(closed.status == 503, "\(closed)")
        #expect(closedReceived == nil, "fail-closed must not reach the upstream")
        if mode.isHTTP {
          // HTTP mode: a 5xx from the check is an error to Envoy; the client gets
          // status_on_error (503), not Augmenter's body (README, "What HTTP mode cannot express").
          #expect(closed.header("content-type") != "application/problem+json")
        } else {
          // gRPC mode: Augmenter's denied_response reaches the client as is.
          let problem = try closed.policyProblem(status: 503)
          #expect(problem["type"] as? String == "https://errors.example/headers-unavailable")
          #expect(problem["title"] as? String == "Headers unavailable")
          #expect(problem["detail"] as? String == "required header provider(s) unavailable: sidecar")
        }

        // The provider recovers: the fail-closed route passes with its headers.
        stack.provider.setAnswer(.headers(PolicyStack.providerHeaders))
        try await eventually("the fail-closed route to pass once the provider is back", timeout: .seconds(10)) {
          () async throws -> Bool? in
          let (response, received, _) = try await stack.send("/closed/2")
          guard response.status == 200 else { return nil }
          #expect(received?.values("authorization") == ["Bearer provider-token-3f9a"])
          #expect(received?.values("x-route") == ["closed"])
          return true
        }
      }
    }

    @Test("two routes with different context_extensions get different headers from one provider (gRPC)")
    func contextExtensionProfiles() async throws {
      try await withTestScope { scope in
        let stack = try await PolicyStack.start(
          scope: scope, mode: .grpc, policy: PolicyRecipe.profiles, envoyConfig: "policy-routes.yaml")
        let forged = [HeaderField("x-plan", "forged"), HeaderField("x-tenant", "forged")]

        let (a, aReceived, _) = try await stack.send("/tenant-a/orders", headers: forged)
        #expect(a.status == 200, "\(a)")
        let tenantA = try #require(aReceived, "\(a)")
        #expect(tenantA.values("x-tenant") == ["a"])
        #expect(tenantA.values("x-plan") == ["gold"])
        #expect(tenantA.values("authorization") == ["Bearer provider-token-3f9a"])

        let (b, bReceived, _) = try await stack.send("/tenant-b/orders", headers: forged)
        #expect(b.status == 200, "\(b)")
        let tenantB = try #require(bReceived, "\(b)")
        #expect(tenantB.values("x-tenant") == ["b"], "templated from the context extension")
        #expect(tenantB.values("x-plan") == [], "tenant-b removes x-plan")
        #expect(tenantB.values("authorization") == ["Bearer provider-token-3f9a"])

        let (other, otherReceived, _) = try await stack.send("/elsewhere", headers: forged)
        #expect(other.status == 200, "\(other)")
        #expect(otherReceived?.values("x-tenant") == ["forged"], "no context extension: no profile")
      }
    }

    @Test("header actions: set, append, add_if_absent, remove give the same upstream request in both modes", arguments: PolicyMode.allCases)
    func headerActions(mode: PolicyMode) async throws {
      try await withTestScope("headerActions-\(mode)") { scope in
        let stack = try await PolicyStack.start(scope: scope, mode: mode, policy: PolicyRecipe.headerActions)
        // Values of a header as a list: gRPC mode joins an append into one line ("client,a"),
        // HTTP mode adds a line; both mean the same list (RFC 9110 §5.3).
        func list(_ values: [String]) -> [String] {
          values.joined(separator: ",").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        }

        let (sent, sentReceived, _) = try await stack.send(
          "/actions",
          headers: [
            HeaderField("x-set", "client"), HeaderField("x-append", "client"), HeaderField("x-add", "client"),
            HeaderField("x-gone", "bye"), HeaderField("x-keep", "k"),
          ])
        #expect(sent.status == 200, "\(sent)")
        let withHeaders = try #require(sentReceived, "\(sent)")
        #expect(withHeaders.values("x-set") == ["s"], "set replaces")
        #expect(
          list(withHeaders.values("x-append")) == ["client", "a"], "append keeps the client's value: \(withHeaders.values("x-append"))")
        #expect(withHeaders.values("x-add") == ["client"], "add_if_absent leaves a present header alone")
        #expect(withHeaders.values("x-gone") == [], "remove removes")
        #expect(withHeaders.values("x-keep") == ["k"])
        #expect(withHeaders.values("x-envoy-auth-headers-to-remove") == [])

        let (bare, bareReceived, _) = try await stack.send("/actions")
        #expect(bare.status == 200, "\(bare)")
        let without = try #require(bareReceived, "\(bare)")
        #expect(without.values("x-set") == ["s"])
        #expect(without.values("x-append") == ["a"], "append onto an absent header adds it")
        #expect(without.values("x-add") == ["n"], "add_if_absent adds an absent header")
        #expect(without.values("x-gone") == [])

        // The checks went over the mode's protocol.
        let (http1, http2) = try await stack.augmenterConnections()
        if mode == .http {
          #expect(http1 >= 1 && http2 == 0, "HTTP/1.1 to Augmenter expected: http1 \(http1), http2 \(http2)")
        } else {
          #expect(http2 >= 1 && http1 == 0, "HTTP/2 to Augmenter expected: http1 \(http1), http2 \(http2)")
        }
      }
    }

    @Test("deny: a 403 problem+json document reaches the client, the upstream sees nothing", arguments: PolicyMode.allCases)
    func deny(mode: PolicyMode) async throws {
      try await withTestScope("deny-\(mode)") { scope in
        let stack = try await PolicyStack.start(scope: scope, mode: mode, policy: PolicyRecipe.deny)
        let (denied, received, _) = try await stack.send("/admin/users")
        #expect(denied.status == 403, "\(denied)")
        #expect(received == nil)
        let problem = try denied.policyProblem(status: 403)
        #expect(problem["type"] as? String == "about:blank")
        #expect(problem["title"] as? String == "Forbidden")
        #expect(problem["detail"] as? String == "the admin area is closed")
        #expect(try await stack.send("/users").response.status == 200)
      }
    }
  }

  /// The README's recipes are the tested ones, and `augmenter validate` accepts them.
  @Suite("Policy recipes in the README")
  struct PolicyRecipeDocs {
    @Test("every recipe is in the README verbatim and passes augmenter validate")
    func recipesAreDocumentedAndValid() async throws {
      let readme = try String(contentsOf: Repository.url("README.md"), encoding: .utf8)
      try await withTestScope { scope in
        for (name, recipe) in PolicyRecipe.all {
          #expect(readme.contains(recipe), "README.md lacks the \(name) recipe verbatim:\n\(recipe)")
          let yaml = PolicyAugmenter.yaml(checkPort: 9191, adminPort: 9901, providerURL: "http://127.0.0.1:8081/headers", policy: recipe)
          let (status, output) = try await policyValidate(yaml, scope: scope, name: name)
          #expect(status == .exited(0), "augmenter validate rejected the \(name) recipe: \(output)")
        }
      }
    }

    @Test("augmenter validate names the key path of a bad template, CIDR, status and profile")
    func validateReportsKeyPaths() async throws {
      try await withTestScope { scope in
        let bad = """
          rules:
            - match: {client_cidr: [203.0.113.7/40]}
              redirect: {status: 302, location: "https://other-host.example{paht}"}
            - deny: {status: 503}
            - allow: {profile: nobody}
          """
        let (status, output) = try await policyValidate(bad, scope: scope, name: "bad")
        #expect(status == .exited(1), "\(String(describing: status)): \(output)")
        for fragment in [
          "rules[0].match.client_cidr[0]:", "rules[0].redirect.location:", "{paht}", "rules[1].deny.status:",
          "rules[2].allow.profile:",
        ] {
          #expect(output.contains(fragment), "missing \(fragment) in:\n\(output)")
        }
      }
    }
  }
}
