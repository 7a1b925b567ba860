// Decisions with rules: each outcome, header actions and their resolution, profiles, per-rule
// failure strategy, problem documents.

import AugmenterCore
import Foundation
import Testing

@Suite("Policy decisions")
struct PolicyDeciderTests {
  let now = MonotonicInstant(nanoseconds: 1_000_000_000_000)
  let wall = Date(timeIntervalSince1970: 1_700_000_000)

  func decider(_ yaml: String, publish: [String: [(String, String)]] = [:]) throws -> (Decider, ProviderRegistry) {
    let config = try ConfigLoader.parse(yaml, environment: [:])
    let registry = ProviderRegistry(config: config)
    for (name, headers) in publish {
      registry.state(named: name)!.publish(headers.map { HeaderField(name: $0.0, value: $0.1) }, fetchedAt: now, fetchedAtWall: wall)
    }
    return (Decider(config: config, registry: registry), registry)
  }

  func request(
    method: String = "GET", path: String = "/a?b=c", authority: String = "api.example", headers: [String: String] = [:],
    requestID: String? = "req-1", source: String? = "127.0.0.1", context: [String: String] = [:]
  ) -> CheckRequestAttributes {
    CheckRequestAttributes(
      method: method, path: path, authority: authority, scheme: "http", requestID: requestID, headers: RequestHeaders(headers),
      sourceAddress: source, destinationAddress: "10.0.0.5", contextExtensions: context)
  }

  func allowed(_ decision: Decision, sourceLocation: SourceLocation = #_sourceLocation) -> [HeaderField] {
    guard case .allow(let headers) = decision else {
      Issue.record("expected allow, got \(decision)", sourceLocation: sourceLocation)
      return []
    }
    return headers
  }

  func denied(_ decision: Decision, sourceLocation: SourceLocation = #_sourceLocation) -> LocalAnswer? {
    guard case .deny(let answer) = decision else {
      Issue.record("expected a local answer, got \(decision)", sourceLocation: sourceLocation)
      return nil
    }
    return answer
  }

  func problem(_ answer: LocalAnswer) throws -> [String: Any] {
    try #require(try JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as? [String: Any])
  }

  static let sidecar = "providers:\n  - name: sidecar\n    url: http://127.0.0.1:1/h\n"

  @Test("the seed's templated header: x-hello: Hello world from <authority>, after the provider's headers")
  func helloWorld() throws {
    let (decider, _) = try decider(
      Self.sidecar + "headers:\n  x-hello: {template: \"Hello world from {authority}\"}\n  x-static: s\n",
      publish: ["sidecar": [("authorization", "Bearer t")]])
    #expect(
      allowed(decider.decide(request(authority: "shop.example:8080"), at: now)) == [
        HeaderField(name: "authorization", value: "Bearer t"),
        HeaderField(name: "x-static", value: "s"),
        HeaderField(name: "x-hello", value: "Hello world from shop.example:8080"),
      ])
  }

  @Test("the seed's IP redirect: 302 to the other host with the original path, only for the matching client")
  func ipRedirect() throws {
    let (decider, _) = try decider(
      Self.sidecar + """
        client_address: {from: header, header: x-real-ip}
        rules:
          - match: {client_cidr: [203.0.113.7]}
            redirect: {status: 302, location: "https://other-host.example{path}"}
        """, publish: ["sidecar": [("x-a", "1")]])
    let answer = try #require(denied(decider.decide(request(path: "/orders/7?x=1", headers: ["x-real-ip": "203.0.113.7"]), at: now)))
    #expect(answer.status == 302)
    #expect(answer.headers == [HeaderField(name: "location", value: "https://other-host.example/orders/7?x=1")])
    #expect(answer.body.isEmpty)
    #expect(allowed(decider.decide(request(headers: ["x-real-ip": "203.0.113.8"]), at: now)) == [HeaderField(name: "x-a", value: "1")])
    #expect(allowed(decider.decide(request(), at: now)) == [HeaderField(name: "x-a", value: "1")], "no x-real-ip: no match")
  }

  @Test("the peer address is the client by default (gRPC source address)")
  func peerAddress() throws {
    let (decider, _) = try decider(
      """
      rules:
        - match: {client_cidr: ["2001:db8::/32"]}
          deny: {status: 403}
      """)
    #expect(denied(decider.decide(request(source: "2001:db8::9"), at: now))?.status == 403)
    #expect(allowed(decider.decide(request(source: "192.0.2.1"), at: now)) == [])
  }

  @Test("rate limit: the 11th request at one instant is a 429 with Retry-After, RateLimit-* and problem+json")
  func rateLimit() throws {
    let (decider, _) = try decider(
      """
      headers: {x-a: b}
      problem_types:
        "429": {type: "https://errors.example/rate-limited", title: Slow down}
      rules:
        - match: {path_prefix: /limited/}
          rate_limit: {key: "{authority}", requests_per_second: 10, burst: 10}
      """)
    for _ in 0..<10 {
      #expect(allowed(decider.decide(request(path: "/limited/x"), at: now)) == [HeaderField(name: "x-a", value: "b")])
    }
    let answer = try #require(denied(decider.decide(request(path: "/limited/x", requestID: "req-11"), at: now)))
    #expect(answer.status == 429)
    #expect(
      answer.headers == [
        HeaderField(name: "content-type", value: "application/problem+json"),
        HeaderField(name: "retry-after", value: "1"),
        HeaderField(name: "ratelimit-limit", value: "10"),
        HeaderField(name: "ratelimit-remaining", value: "0"),
        HeaderField(name: "ratelimit-reset", value: "1"),
      ])
    let body = try problem(answer)
    #expect(body["type"] as? String == "https://errors.example/rate-limited")
    #expect(body["title"] as? String == "Slow down")
    #expect(body["status"] as? Int == 429)
    #expect((body["detail"] as? String)?.contains("10 requests per second") == true)
    #expect(body["instance"] as? String == "req-11")
    // The key is the authority: another host has its own bucket; other paths are not limited.
    #expect(!allowed(decider.decide(request(path: "/limited/x", authority: "other.example"), at: now)).isEmpty)
    #expect(!allowed(decider.decide(request(path: "/free"), at: now)).isEmpty)
    // A second later the bucket is full again.
    #expect(!allowed(decider.decide(request(path: "/limited/x"), at: now + .seconds(1))).isEmpty)
  }

  @Test("failure strategy per rule: fail-open and fail-closed routes with the provider down")
  func perRuleFailureStrategy() throws {
    let (decider, registry) = try decider(
      Self.sidecar + """
        on_unavailable: deny
        problem_types:
          "503": {type: "https://errors.example/headers-unavailable", title: Headers unavailable}
        rules:
          - match: {path_prefix: /open/}
            allow: {providers: [sidecar], on_unavailable: allow, headers: {x-route: open}}
          - match: {path_prefix: /closed/}
            allow: {providers: [sidecar], headers: {x-route: closed}}
        """)
    #expect(allowed(decider.decide(request(path: "/open/1"), at: now)) == [HeaderField(name: "x-route", value: "open")])
    let answer = try #require(denied(decider.decide(request(path: "/closed/1"), at: now)))
    #expect(answer.status == 503)
    let body = try problem(answer)
    #expect(body["type"] as? String == "https://errors.example/headers-unavailable")
    #expect(body["title"] as? String == "Headers unavailable")
    #expect(body["detail"] as? String == "required header provider(s) unavailable: sidecar")
    #expect(body["instance"] as? String == "req-1")
    // The provider comes back: both routes get its headers.
    registry.state(named: "sidecar")!.publish([HeaderField(name: "x-p", value: "1")], fetchedAt: now, fetchedAtWall: wall)
    #expect(
      allowed(decider.decide(request(path: "/closed/1"), at: now)) == [
        HeaderField(name: "x-p", value: "1"), HeaderField(name: "x-route", value: "closed"),
      ])
  }

  @Test("a rule naming a provider needs it even when it is not required; without a list only required ones count")
  func neededProviders() throws {
    let (decider, _) = try decider(
      """
      on_unavailable: deny
      providers:
        - name: sidecar
          url: http://127.0.0.1:1/h
        - name: optional
          url: http://127.0.0.1:2/h
          required: false
      rules:
        - match: {path_prefix: /needs-optional/}
          allow: {providers: [optional]}
      """, publish: ["sidecar": [("x-s", "1")]])
    let answer = try #require(denied(decider.decide(request(path: "/needs-optional/1"), at: now)))
    #expect(answer.status == 503)
    #expect(try problem(answer)["detail"] as? String == "required header provider(s) unavailable: optional")
    #expect(allowed(decider.decide(request(path: "/other"), at: now)) == [HeaderField(name: "x-s", value: "1")])
  }

  @Test("profiles selected by context_extensions give two routes different headers from one provider")
  func profiles() throws {
    let (decider, _) = try decider(
      Self.sidecar + """
        headers: {x-common: c}
        profiles:
          tenant-a:
            providers: [sidecar]
            headers: {x-tenant: a, x-plan: gold}
          tenant-b:
            headers: {x-tenant: {template: "{context:tenant}-from-context"}}
        rules:
          - match: {context_extensions: {tenant: a}}
            allow: {profile: tenant-a}
          - match: {context_extensions: {tenant: b}}
            allow: {profile: tenant-b, headers: {x-plan: {action: remove}}}
        """, publish: ["sidecar": [("authorization", "Bearer shared")]])
    #expect(
      allowed(decider.decide(request(context: ["tenant": "a"]), at: now)) == [
        HeaderField(name: "authorization", value: "Bearer shared"), HeaderField(name: "x-common", value: "c"),
        HeaderField(name: "x-tenant", value: "a"), HeaderField(name: "x-plan", value: "gold"),
      ])
    #expect(
      allowed(decider.decide(request(context: ["tenant": "b"]), at: now)) == [
        HeaderField(name: "authorization", value: "Bearer shared"), HeaderField(name: "x-common", value: "c"),
        HeaderField(name: "x-plan", value: "", action: .remove), HeaderField(name: "x-tenant", value: "b-from-context"),
      ])
    #expect(
      allowed(decider.decide(request(), at: now)) == [
        HeaderField(name: "authorization", value: "Bearer shared"), HeaderField(name: "x-common", value: "c"),
      ])
  }

  @Test("header actions are resolved against the request: add_if_absent and append onto an absent header become set")
  func actionResolution() throws {
    let (decider, _) = try decider(
      """
      headers:
        x-set: {value: s}
        x-append: {value: a, action: append}
        x-add: {value: n, action: add_if_absent}
        x-gone: {action: remove}
      """)
    #expect(
      allowed(decider.decide(request(), at: now)) == [
        HeaderField(name: "x-set", value: "s"), HeaderField(name: "x-append", value: "a"),
        HeaderField(name: "x-add", value: "n"), HeaderField(name: "x-gone", value: "", action: .remove),
      ])
    #expect(
      allowed(decider.decide(request(headers: ["x-append": "client", "x-add": "client", "x-set": "client"]), at: now)) == [
        HeaderField(name: "x-set", value: "s"), HeaderField(name: "x-append", value: "a", action: .append),
        HeaderField(name: "x-gone", value: "", action: .remove),
      ])
  }

  @Test("provider header_actions: per name and a * default")
  func providerActions() throws {
    let (decider, _) = try decider(
      """
      providers:
        - name: sidecar
          url: http://127.0.0.1:1/h
          header_actions: {x-trace: append, "*": add_if_absent}
      """, publish: ["sidecar": [("x-trace", "p"), ("authorization", "Bearer p")]])
    #expect(
      allowed(decider.decide(request(headers: ["x-trace": "c", "authorization": "Bearer c"]), at: now)) == [
        HeaderField(name: "x-trace", value: "p", action: .append)
      ])
    #expect(
      allowed(decider.decide(request(), at: now)) == [
        HeaderField(name: "x-trace", value: "p"), HeaderField(name: "authorization", value: "Bearer p"),
      ])
  }

  @Test("precedence: provider < top-level < profile < rule, one entry per name")
  func precedence() throws {
    let (decider, _) = try decider(
      Self.sidecar + """
        headers: {x-a: top, x-b: top}
        profiles:
          p: {headers: {x-b: profile, x-c: profile}}
        rules:
          - allow: {profile: p, headers: {x-c: rule}}
        """, publish: ["sidecar": [("x-a", "provider"), ("x-p", "provider")]])
    #expect(
      allowed(decider.decide(request(), at: now)) == [
        HeaderField(name: "x-a", value: "top"), HeaderField(name: "x-p", value: "provider"),
        HeaderField(name: "x-b", value: "profile"), HeaderField(name: "x-c", value: "rule"),
      ])
  }

  @Test("deny: 4xx problem+json with a templated detail, extra headers and the request id as instance")
  func deny() throws {
    let (decider, _) = try decider(
      """
      client_address: {from: header, header: x-forwarded-for, trusted_hops: 1}
      rules:
        - match: {path_prefix: /admin, method: [POST]}
          deny: {status: 403, detail: "admin is closed to {client_address}", headers: {x-reason: closed}}
      """)
    let answer = try #require(
      denied(decider.decide(request(method: "POST", path: "/admin/x", headers: ["x-forwarded-for": "1.1.1.1, 198.51.100.4"]), at: now)))
    #expect(answer.status == 403)
    #expect(
      answer.headers == [
        HeaderField(name: "content-type", value: "application/problem+json"), HeaderField(name: "x-reason", value: "closed"),
      ])
    let body = try problem(answer)
    #expect(body["type"] as? String == "about:blank")
    #expect(body["title"] as? String == "Forbidden")
    #expect(body["status"] as? Int == 403)
    #expect(body["detail"] as? String == "admin is closed to 198.51.100.4")
    #expect(body["instance"] as? String == "req-1")
    #expect(body.count == 5)
    #expect(allowed(decider.decide(request(method: "GET", path: "/admin/x"), at: now)) == [])
  }

  @Test("first match wins; a rate limit under its limit passes evaluation on; default applies last")
  func ordering() throws {
    let (decider, _) = try decider(
      """
      rules:
        - match: {header_present: [x-limited]}
          rate_limit: {requests_per_second: 1, burst: 1}
        - match: {path_prefix: /a}
          allow: {headers: {x-rule: first}}
        - match: {path_prefix: /a}
          allow: {headers: {x-rule: second}}
      default:
        deny: {status: 404, detail: no route}
      """)
    #expect(
      allowed(decider.decide(request(path: "/a/1", headers: ["x-limited": "1"]), at: now)) == [HeaderField(name: "x-rule", value: "first")])
    #expect(denied(decider.decide(request(path: "/a/1", headers: ["x-limited": "1"]), at: now))?.status == 429)
    #expect(allowed(decider.decide(request(path: "/a/1"), at: now)) == [HeaderField(name: "x-rule", value: "first")])
    let fallback = try #require(denied(decider.decide(request(path: "/b"), at: now)))
    #expect(fallback.status == 404)
    #expect(try problem(fallback)["detail"] as? String == "no route")
  }

  @Test("a template reading a provider makes that provider needed; its value is injected")
  func providerTemplate() throws {
    let yaml = Self.sidecar + "    required: false\nheaders:\n  x-auth: {template: \"Token {provider:sidecar:token}\"}\n"
    let (decider, registry) = try decider(yaml)
    #expect(denied(decider.decide(request(), at: now))?.status == 503)
    registry.state(named: "sidecar")!.publish([HeaderField(name: "token", value: "abc")], fetchedAt: now, fetchedAtWall: wall)
    #expect(
      allowed(decider.decide(request(), at: now)) == [
        HeaderField(name: "token", value: "abc"), HeaderField(name: "x-auth", value: "Token abc"),
      ])
  }

  @Test("hostile request values never make an invalid header through a rule's template")
  func hostileThroughDecider() throws {
    let (decider, _) = try decider("headers:\n  x-echo: {template: \"seen {header:x-in}\"}\n")
    let headers = allowed(decider.decide(request(headers: ["x-in": "a\r\nset-cookie: evil\0"]), at: now))
    #expect(headers == [HeaderField(name: "x-echo", value: "seen aset-cookie: evil")])
  }

  @Test("the merged headers follow new snapshots and expiry; templated headers follow each request")
  func followsSnapshotsWithPolicy() throws {
    let yaml = """
      providers:
        - name: sidecar
          url: http://127.0.0.1:1/h
          ttl: 10s
          max_stale: 0s
      on_unavailable: allow
      headers:
        x-static: s
        x-host: {template: "{host}"}
      """
    let (decider, registry) = try decider(yaml, publish: ["sidecar": [("x-p", "1")]])
    let first = [HeaderField(name: "x-p", value: "1"), HeaderField(name: "x-static", value: "s")]
    #expect(allowed(decider.decide(request(authority: "a.example"), at: now)) == first + [HeaderField(name: "x-host", value: "a.example")])
    // Same snapshot, another request: the template is rendered again, not taken from the last check.
    #expect(allowed(decider.decide(request(authority: "b.example"), at: now)) == first + [HeaderField(name: "x-host", value: "b.example")])
    // A new snapshot replaces the merged headers at once.
    registry.state(named: "sidecar")!.publish([HeaderField(name: "x-p", value: "2")], fetchedAt: now, fetchedAtWall: wall)
    #expect(
      allowed(decider.decide(request(authority: "a.example"), at: now)) == [
        HeaderField(name: "x-p", value: "2"), HeaderField(name: "x-static", value: "s"), HeaderField(name: "x-host", value: "a.example"),
      ])
    // Past ttl + max_stale the provider's headers are gone (on_unavailable: allow).
    #expect(
      allowed(decider.decide(request(authority: "a.example"), at: now + .seconds(10))) == [
        HeaderField(name: "x-static", value: "s"), HeaderField(name: "x-host", value: "a.example"),
      ])
  }
}
