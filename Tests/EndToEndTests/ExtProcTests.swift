//===----------------------------------------------------------------------===//
// End-to-end tests: the ext_proc front through a real Envoy (envoy/ext-proc*.yaml).
//===----------------------------------------------------------------------===//

import Foundation
import NIOCore
import NIOHTTP1
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

    @Test(
      "h2load through Envoy: 20,000 requests, 0 failures, each reached the upstream with the provider's header, one Process stream each on one connection"
    )
    func h2loadThroughEnvoy() async throws {
      try await withTestScope { scope in
        let stack = try await Stack.start(scope: scope, answer: .headers(["x-a": "loaded"]), envoyConfig: "ext-proc.yaml")
        try await stack.augmenter.waitUntilReady()
        let requests = 20_000
        let run = try await H2Load.gets(
          url: "http://127.0.0.1:\(stack.envoy.listenerPort)/load", requests: requests, scope: scope)
        try run.expectAllSucceeded()
        // What h2load cannot check, the upstream does: every request carried the injected header.
        let received = stack.upstream.requests.filter { $0.uri == "/load" }
        #expect(received.count == requests, "upstream received \(received.count)")
        #expect(received.allSatisfy { $0.values("x-a") == ["loaded"] }, "a request reached the upstream without its header")
        // Envoy's one worker multiplexed every Process stream onto one HTTP/2 connection.
        let stats = try await EnvoyStats.fetch(adminPort: stack.envoy.adminPort, filter: "cluster.augmenter.upstream_")
        #expect(stats["cluster.augmenter.upstream_cx_total"] == 1, "\(stats)")
        #expect((stats["cluster.augmenter.upstream_rq_total"] ?? 0) >= requests, "\(stats)")
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

extension EndToEnd {
  /// The same Augmenter behind two Envoys, one calling it through ext_authz (gRPC) and one
  /// through ext_proc: every request must look the same to the client and to the upstream.
  @Suite("ext_authz and ext_proc give the same results")
  struct ExtProcEquivalence {
    static let policy = """
      client_address: {from: header, header: x-real-ip}
      headers:
        x-set: {value: s}
        x-append: {value: a, action: append}
        x-add: {value: n, action: add_if_absent}
        x-gone: {action: remove}
        x-hello: {template: "Hello {method} {path}"}
      rules:
        - match: {path_prefix: /admin/}
          deny: {status: 403, detail: "the admin area is closed"}
        - match: {client_cidr: [203.0.113.7/32]}
          redirect: {status: 302, location: "https://other-host.example{path}"}
      """

    /// The header names the policy acts on, plus the provider's.
    static let names = ["authorization", "x-set", "x-append", "x-add", "x-gone", "x-hello", "x-client"]

    /// What one request looked like through one Envoy: status, the local answer's headers and body, and the acted-on headers as the upstream saw them (nil: it never got there).
    /// Several values of a header are compared joined with `,`: ext_authz joins an appended
    /// value onto the line, ext_proc adds a line, and HTTP reads both the same (RFC 9110 §5.3).
    struct Seen: Equatable, CustomStringConvertible {
      var status: Int
      var location: String?
      var contentType: String?
      var body: String
      var upstream: [String: String]?

      var description: String {
        "\(status) location=\(location ?? "-") type=\(contentType ?? "-") body=\(body.prefix(200)) upstream=\(upstream.map { "\($0.sorted { $0.key < $1.key })" } ?? "none")"
      }
    }

    @Test(
      "header actions, templates, a deny and a redirect: identical status, body and upstream headers",
      arguments: [
        ("/orders/1", [("x-set", "client"), ("x-append", "client"), ("x-add", "client"), ("x-gone", "client"), ("x-client", "keep")]),
        ("/orders/2", [("authorization", "Bearer forged")]),
        ("/admin/panel", [("x-set", "client")]),
        ("/orders/3?x=1", [("x-real-ip", "203.0.113.7")]),
        ("/orders/4", [("x-real-ip", "203.0.113.8")]),
      ] as [(String, [(String, String)])])
    func sameResults(path: String, headers: [(String, String)]) async throws {
      try await withTestScope("ExtProcEquivalence-\(path)") { scope in
        let provider = try await TestProvider.start(scope: scope, answer: .headers(PolicyStack.providerHeaders))
        let upstream = try await EchoUpstream.start(scope: scope)
        let augmenter = try await PolicyAugmenter.start(scope: scope, providerURL: provider.url, policy: Self.policy)
        try await augmenter.waitUntilReady()
        var seen: [String: Seen] = [:]
        for file in ["ext-authz-grpc.yaml", "ext-proc.yaml"] {
          let envoy = try await EnvoyProcess.start(
            scope: scope, configFile: file, augmenterPort: augmenter.checkPort, upstreamPort: upstream.port,
            name: "envoy-\(file.prefix(8))")
          // The same URI through both: the redirect's location and the template repeat it.
          let before = upstream.requests.count
          let response = try await envoy.send(path: path, headers: headers.map { HeaderField($0.0, $0.1) })
          let received = upstream.requests.dropFirst(before).last { $0.uri == path }
          seen[file] = Seen(
            status: response.status, location: response.header("location"), contentType: response.header("content-type"),
            // A 200's body is the echo upstream's (its own request id and port); a local
            // answer's problem document is compared without `instance`, the request's id.
            body: response.status == 200
              ? "" : response.text.replacingOccurrences(of: #""instance":"[^"]*""#, with: "", options: .regularExpression),
            upstream: received.map { request in
              Dictionary(
                uniqueKeysWithValues: Self.names.map { name in
                  (name, request.values(name).map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: ","))
                })
            })
        }
        let authz = try #require(seen["ext-authz-grpc.yaml"])
        let proc = try #require(seen["ext-proc.yaml"])
        #expect(authz == proc, "ext_authz: \(authz)\next_proc:  \(proc)")
        // And the results are the policy's, not two identical failures.
        switch path {
        case "/admin/panel": #expect(authz.status == 403)
        case "/orders/3?x=1": #expect(authz.status == 302 && authz.location == "https://other-host.example/orders/3?x=1")
        default:
          #expect(authz.status == 200)
          #expect(authz.upstream?["x-set"] == "s")
          #expect(authz.upstream?["authorization"] == "Bearer provider-token-3f9a")
        }
      }
    }
  }
}

extension EndToEnd {
  /// `error_responses` through Envoy's ext_proc filter (envoy/ext-proc-error-responses.yaml):
  /// an upstream that answers what the path asks for.
  @Suite("ext_proc: upstream errors rewritten into problem+json")
  struct ExtProcErrorResponses {
    static let policy = """
      problem_types:
        "503": {type: "https://errors.example/unavailable", title: "Try again later"}
      error_responses:
        statuses: [404, 500-599]
        path_prefixes: [/api/]
      """

    /// `/<anything>/<status>/<kind>`: that status, with a body of that kind (plain, gzip, problem, grpc).
    static func upstream(scope: TestScope) async throws -> HTTP1TestServer {
      try await HTTP1TestServer.start(name: "error-upstream", scope: scope) { request, respond, eventLoop in
        let parts = request.uri.split(separator: "?")[0].split(separator: "/")
        let status = parts.count >= 2 ? Int(parts[parts.count - 2]) ?? 200 : 200
        let kind = parts.last.map(String.init) ?? "plain"
        var headers: [HeaderField] = []
        var body = Array("upstream says \(status), with details the client must not see\n".utf8)
        switch kind {
        case "gzip":
          headers = [HeaderField("content-type", "text/plain"), HeaderField("content-encoding", "gzip")]
          body = [0x1F, 0x8B, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03] + Array(repeating: 0x42, count: 40)
        case "problem":
          headers = [HeaderField("content-type", "application/problem+json")]
          body = Array(#"{"title":"upstream's own","status":\#(status)}"#.utf8)
        case "grpc":
          headers = [HeaderField("content-type", "application/grpc"), HeaderField("grpc-status", "14")]
          body = []
        case "chunked":
          headers = [HeaderField("content-type", "text/plain"), HeaderField("transfer-encoding", "chunked")]
        case "long":
          headers = [HeaderField("content-type", "text/plain")]
          body = Array(String(repeating: "a long upstream story ", count: 300).utf8)
        default:
          headers = [HeaderField("content-type", "text/plain"), HeaderField("x-powered-by", "upstream-framework")]
        }
        // `/slow/` answers after 1.5 s: long enough to kill Augmenter while the Process stream waits.
        if request.uri.contains("/slow/") {
          eventLoop.scheduleTask(in: .milliseconds(1500)) { respond(HTTPResponseStatus(statusCode: status), headers, body) }
        } else {
          respond(HTTPResponseStatus(statusCode: status), headers, body)
        }
      }
    }

    /// A provider, the error upstream, Augmenter with `policy`, and Envoy calling it through ext_proc.
    static func start(scope: TestScope, policy: String = Self.policy) async throws -> EnvoyProcess {
      try await Self.startStack(scope: scope, policy: policy).envoy
    }

    /// `start`, returning Augmenter and the provider too, with Envoy's config text changed by
    /// `substitutions`.
    static func startStack(
      scope: TestScope, policy: String = Self.policy, configFile: String = "ext-proc-error-responses.yaml",
      substitutions: [String: String] = [:]
    ) async throws -> (envoy: EnvoyProcess, augmenter: AugmenterProcess, provider: TestProvider) {
      let provider = try await TestProvider.start(scope: scope, answer: .headers(["x-a": "1"]))
      let upstream = try await Self.upstream(scope: scope)
      let augmenter = try await PolicyAugmenter.start(scope: scope, providerURL: provider.url, policy: policy)
      try await augmenter.waitUntilReady()
      let envoy = try await EnvoyProcess.start(
        scope: scope, configFile: configFile, augmenterPort: augmenter.checkPort,
        upstreamPort: upstream.port, substitutions: substitutions)
      return (envoy, augmenter, provider)
    }

    @Test(
      "ext_authz and ext_proc together (envoy/ext-authz-and-ext-proc.yaml): errors rewritten from response attributes, a denial not wrapped twice, a route with ext_proc disabled left alone"
    )
    func withExtAuthz() async throws {
      let policy =
        Self.policy + """

          rules:
            - match: {path_prefix: /api/closed/}
              deny: {status: 403, detail: "closed by ext_authz"}
          """
      try await withTestScope { scope in
        let (envoy, _, _) = try await Self.startStack(scope: scope, policy: policy, configFile: "ext-authz-and-ext-proc.yaml")
        let rewritten = try await envoy.send(path: "/api/orders/502/plain", headers: [HeaderField("x-request-id", "both-1")])
        #expect(rewritten.status == 502, "\(rewritten)")
        #expect(rewritten.header("content-type") == "application/problem+json", "\(rewritten)")
        let document = try #require(try JSONSerialization.jsonObject(with: Data(rewritten.body)) as? [String: Any], "\(rewritten)")
        #expect(document["instance"] as? String == "both-1", "\(rewritten)")
        #expect(document["title"] as? String == "Bad Gateway", "\(rewritten)")

        let denied = try await envoy.send(path: "/api/closed/x")
        #expect(denied.status == 403, "\(denied)")
        #expect(denied.header("content-type") == "application/problem+json", "\(denied)")
        #expect(denied.text.contains("closed by ext_authz"), "\(denied)")

        let raw = try await envoy.send(path: "/api/raw/orders/500/plain")
        #expect(raw.status == 500, "\(raw)")
        #expect(raw.header("content-type") == "text/plain", "\(raw)")
        #expect(raw.text.hasPrefix("upstream says 500"), "\(raw)")

        let ok = try await envoy.send(path: "/api/orders/200/plain")
        #expect(ok.text == "upstream says 200, with details the client must not see\n", "\(ok)")
      }
    }

    @Test(
      "Augmenter killed mid-stream: failure_mode_allow decides (fail closed: 500; open: the upstream's answer), and after a restart on the same port requests work",
      arguments: [false, true])
    func killedMidStream(failureModeAllow: Bool) async throws {
      try await withTestScope { scope in
        let (envoy, augmenter, provider) = try await Self.startStack(
          scope: scope, substitutions: ["failure_mode_allow: false": "failure_mode_allow: \(failureModeAllow)"])
        let before = try await envoy.send(path: "/api/orders/200/plain")
        #expect(before.status == 200, "\(before)")

        // The Process stream of this request waits for the response headers when Augmenter dies.
        async let inFlight = envoy.send(path: "/api/slow/200/plain")
        try await Task.sleep(for: .milliseconds(500))
        augmenter.process.send(signal: SIGKILL)
        _ = await augmenter.process.waitForExit(timeout: .seconds(10))
        let cut = try await inFlight
        let whileDown = try await envoy.send(path: "/api/orders/200/plain")
        for (what, response) in [("in flight", cut), ("while down", whileDown)] {
          if failureModeAllow {
            #expect(response.status == 200, "\(what): \(response)")
            #expect(response.text.hasPrefix("upstream says 200"), "\(what): \(response)")
          } else {
            #expect(response.status == 500, "\(what): \(response)")
            #expect(!response.text.contains("upstream says"), "\(what): \(response)")
          }
        }

        // A new instance on the same check port: Envoy reconnects and the next requests work.
        let restarted = try await AugmenterProcess.start(scope: scope, name: "augmenter-restarted") { _, adminPort in
          PolicyAugmenter.yaml(checkPort: augmenter.checkPort, adminPort: adminPort, providerURL: provider.url, policy: Self.policy)
        }
        try await restarted.waitUntilReady()
        try await eventually("requests to work again after the restart", timeout: .seconds(15), every: .milliseconds(200)) {
          let response = try await envoy.send(path: "/api/orders/500/plain")
          return response.status == 500 && response.header("content-type") == "application/problem+json" ? true : nil
        }
      }
    }

    @Test("plain, gzip and chunked 404, 500, 502, 503 under /api/ arrive as problem+json with status, type, title, instance and length")
    func errorsAreRewritten() async throws {
      try await withTestScope { scope in
        let envoy = try await Self.start(scope: scope)
        for (status, kind) in [(404, "plain"), (500, "plain"), (502, "gzip"), (503, "plain"), (503, "gzip"), (500, "chunked")] {
          let response = try await envoy.send(
            path: "/api/orders/\(status)/\(kind)", headers: [HeaderField("x-request-id", "req-\(status)-\(kind)")])
          let what = "\(status) \(kind): \(response)"
          #expect(response.status == status, "\(what)")
          #expect(response.header("content-type") == "application/problem+json", "\(what)")
          #expect(response.header("content-encoding") == nil, "\(what)")
          #expect(!response.text.contains("must not see"), "\(what)")
          if let length = response.header("content-length") {
            #expect(Int(length) == response.body.count, "\(what)")
          }
          let document = try #require(try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any], "\(what)")
          #expect(document["status"] as? Int == status, "\(what)")
          #expect(document["instance"] as? String == "req-\(status)-\(kind)", "\(what)")
          #expect(document["type"] as? String == (status == 503 ? "https://errors.example/unavailable" : "about:blank"), "\(what)")
          let titles = [404: "Not Found", 500: "Internal Server Error", 502: "Bad Gateway", 503: "Try again later"]
          #expect(document["title"] as? String == titles[status], "\(what)")
        }
      }
    }

    @Test("the README's custom-errors recipe: 502 and 503 under /api/ get their type URIs and title, 500 about:blank, 404 untouched")
    func customErrorsRecipe() async throws {
      try await withTestScope { scope in
        let envoy = try await Self.start(scope: scope, policy: PolicyRecipe.customErrors)
        for (status, type) in [
          (502, "https://errors.example/bad-gateway"), (503, "https://errors.example/unavailable"), (500, "about:blank"),
        ] {
          let response = try await envoy.send(path: "/api/orders/\(status)/plain")
          #expect(response.status == status, "\(response)")
          let document = try #require(try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any], "\(response)")
          #expect(document["type"] as? String == type, "\(response)")
          #expect(
            document["title"] as? String == (status == 500 ? "Internal Server Error" : "The service is having trouble"), "\(response)")
        }
        let notFound = try await envoy.send(path: "/api/orders/404/plain")
        #expect(notFound.header("content-type") == "text/plain", "\(notFound)")
      }
    }

    @Test("quote_body_bytes: the upstream body is quoted in detail, bounded; gzip bodies are not quoted; lengths are right")
    func upstreamBodiesAreQuoted() async throws {
      try await withTestScope { scope in
        let envoy = try await Self.start(scope: scope, policy: Self.policy + "\n  quote_body_bytes: 100")
        for (status, kind) in [(500, "plain"), (502, "chunked"), (503, "long"), (503, "gzip"), (404, "plain")] {
          let response = try await envoy.send(
            path: "/api/orders/\(status)/\(kind)", headers: [HeaderField("x-request-id", "q-\(status)-\(kind)")])
          let what = "\(status) \(kind): \(response)"
          #expect(response.status == status, "\(what)")
          #expect(response.header("content-type") == "application/problem+json", "\(what)")
          #expect(response.header("content-encoding") == nil, "\(what)")
          if let length = response.header("content-length") {
            #expect(Int(length) == response.body.count, "\(what)")
          }
          let document = try #require(try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any], "\(what)")
          #expect(document["instance"] as? String == "q-\(status)-\(kind)", "\(what)")
          let detail = try #require(document["detail"] as? String, "\(what)")
          switch kind {
          case "gzip": #expect(!detail.contains("It said"), "\(what)")
          case "long":
            #expect(detail.contains("It said: a long upstream story"), "\(what)")
            #expect(detail.hasSuffix("…"), "\(what)")
            #expect(detail.utf8.count < 200, "\(what)")
          default:
            #expect(detail.hasSuffix("It said: upstream says \(status), with details the client must not see"), "\(what)")
          }
        }
        let ok = try await envoy.send(path: "/api/orders/200/chunked")
        #expect(ok.status == 200)
        #expect(ok.text == "upstream says 200, with details the client must not see\n", "\(ok)")
      }
    }

    @Test("a rule's response_headers reach the client on 2xx and on rewritten errors; other rules' responses are untouched")
    func responseHeaderActions() async throws {
      let policy =
        Self.policy + """

          rules:
            - name: site
              match: {path_prefix: /api/site/}
              allow:
                response_headers:
                  strict-transport-security: max-age=63072000
                  x-powered-by: {action: remove}
          """
      try await withTestScope { scope in
        let envoy = try await Self.start(scope: scope, policy: policy)
        for (path, status) in [("/api/site/200/plain", 200), ("/api/site/500/plain", 500)] {
          let response = try await envoy.send(path: path)
          #expect(response.status == status, "\(path): \(response)")
          #expect(response.header("strict-transport-security") == "max-age=63072000", "\(path): \(response)")
          #expect(response.header("x-powered-by") == nil, "\(path): \(response)")
        }
        let other = try await envoy.send(path: "/api/other/200/plain")
        #expect(other.header("x-powered-by") == "upstream-framework", "\(other)")
        #expect(other.header("strict-transport-security") == nil, "\(other)")
      }
    }

    @Test("left alone: 2xx byte for byte, 403 (not selected), problem+json and gRPC upstream answers, paths outside /api/")
    func othersPassUnchanged() async throws {
      try await withTestScope { scope in
        let envoy = try await Self.start(scope: scope)
        let ok = try await envoy.send(path: "/api/orders/200/plain")
        #expect(ok.status == 200)
        #expect(ok.text == "upstream says 200, with details the client must not see\n", "\(ok)")
        #expect(ok.header("content-type") == "text/plain")
        for (path, status, contentType) in [
          ("/api/orders/403/plain", 403, "text/plain"), ("/api/orders/502/problem", 502, "application/problem+json"),
          ("/other/orders/500/plain", 500, "text/plain"),
        ] {
          let response = try await envoy.send(path: path)
          #expect(response.status == status, "\(path): \(response)")
          #expect(response.header("content-type") == contentType, "\(path): \(response)")
          #expect(!response.text.contains("\"instance\""), "\(path) was rewritten: \(response)")
        }
        let grpc = try await envoy.send(path: "/api/orders/200/grpc")
        #expect(grpc.header("content-type") == "application/grpc", "\(grpc)")
      }
    }
  }
}
