// The policy keys: what a full file reads into, and every validation error with its key path.

import Testing

@testable import AugmenterCore

@Suite("Policy configuration")
struct PolicyConfigTests {
  static let providers = """
    providers:
      - name: sidecar
        url: http://127.0.0.1:8081/headers
        header_actions: {X-Audit: append, "*": add_if_absent}
      - name: tenant-b
        url: http://127.0.0.1:8082/headers
        required: false

    """

  static let fullYAML =
    providers + """
      client_address: {from: header, header: X-Forwarded-For, trusted_hops: 2}
      headers:
        x-static: plain
        x-hello: {template: "Hello world from {authority}"}
        x-trace: {value: t1, action: append}
        X-Debug: {action: remove}
      profiles:
        tenant-a:
          providers: [sidecar]
          headers: {x-tenant: a}
        tenant-b:
          providers: [tenant-b]
          headers: {x-tenant: {template: "{context:tenant}"}}
          on_unavailable: allow
      problem_types:
        "429": {type: "https://errors.example/rate-limited", title: Slow down}
      http_mode: {path_prefix: /ext-authz}
      rules:
        - name: blocked-clients
          match: {client_cidr: [203.0.113.7/32, "2001:db8::/32"]}
          redirect: {status: 302, location: "https://other.example{path}"}
        - match: {authority: "*.example.com", method: [get, HEAD]}
          rate_limit: {key: "{client_address}", requests_per_second: 10, burst: 20, max_keys: 500}
        - match: {context_extensions: {tenant: a}, path_prefix: /api/}
          allow: {profile: tenant-a, headers: {x-extra: {value: e, action: add_if_absent}}}
        - match: {path_exact: [/admin, /root], header_present: [X-Debug], header_equals: {X-Env: prod}}
          deny: {status: 403, detail: "no admin from {client_address}", headers: {x-reason: closed}}
      default:
        allow: {providers: [sidecar], on_unavailable: deny}
      """

  @Test("a full policy file reads into the model (names lower-cased, methods upper-cased)")
  func fullPolicy() throws {
    let config = try ConfigLoader.parse(Self.fullYAML, environment: [:])
    #expect(!config.isPolicyFree)
    #expect(config.providers[0].headerActions == ["x-audit": .append, "*": .addIfAbsent])
    #expect(config.providers[0].action(for: "x-audit") == .append)
    #expect(config.providers[0].action(for: "other") == .addIfAbsent)
    #expect(config.providers[1].action(for: "other") == .set)
    #expect(config.clientAddress == .header(name: "x-forwarded-for", trustedHops: 2))
    #expect(config.headers == [HeaderField(name: "x-static", value: "plain")])
    #expect(
      config.headerRules == [
        HeaderRule(name: "x-hello", value: .template(try Template("Hello world from {authority}"))),
        HeaderRule(name: "x-trace", value: .literal("t1"), action: .append),
        HeaderRule(name: "x-debug", value: .none, action: .remove),
      ])
    #expect(config.profiles.map(\.name) == ["tenant-a", "tenant-b"])
    #expect(config.profiles[1].onUnavailable == .allow)
    #expect(config.problemTypes[429] == ProblemType(type: "https://errors.example/rate-limited", title: "Slow down"))
    #expect(config.httpModePathPrefix == "/ext-authz")
    #expect(config.rules.count == 4)
    #expect(config.rules[0].name == "blocked-clients")
    #expect(config.rules[0].match.clientCIDRs == [try CIDR("203.0.113.7/32"), try CIDR("2001:db8::/32")])
    #expect(config.rules[0].outcome == .redirect(RedirectOutcome(status: 302, location: try Template("https://other.example{path}"))))
    #expect(config.rules[1].match.methods == ["GET", "HEAD"])
    #expect(
      config.rules[1].outcome
        == .rateLimit(RateLimitOutcome(key: try Template("{client_address}"), requestsPerSecond: 10, burst: 20, maxKeys: 500)))
    #expect(config.rules[2].match.contextExtensions == [ExpectedValue(name: "tenant", value: "a")])
    #expect(
      config.rules[2].outcome
        == .allow(AllowOutcome(profile: "tenant-a", headers: [HeaderRule(name: "x-extra", value: .literal("e"), action: .addIfAbsent)])))
    #expect(config.rules[3].match.exactPaths == ["/admin", "/root"])
    #expect(config.rules[3].match.headersPresent == ["x-debug"])
    #expect(config.rules[3].match.headersEqual == [ExpectedValue(name: "x-env", value: "prod")])
    #expect(config.defaultOutcome == .allow(AllowOutcome(providers: ["sidecar"], onUnavailable: .deny)))
  }

  @Test("the same policy as JSON reads the same")
  func json() throws {
    let json = """
      {"providers": [{"name": "sidecar", "url": "http://127.0.0.1:8081/headers"}],
       "headers": {"x-hello": {"template": "Hello world from {authority}"}},
       "client_address": {"from": "header", "header": "x-real-ip"},
       "rules": [{"match": {"client_cidr": ["203.0.113.7"]}, "redirect": {"location": "https://other.example{path}"}}]}
      """
    let config = try ConfigLoader.parse(json, environment: [:])
    #expect(config.clientAddress == .header(name: "x-real-ip", trustedHops: 1))
    #expect(config.rules[0].outcome == .redirect(RedirectOutcome(status: 302, location: try Template("https://other.example{path}"))))
  }

  @Test("without policy keys a configuration is policy-free (the original decision path)")
  func policyFree() throws {
    let config = try ConfigLoader.parse("providers:\n" + providerYAML() + "headers: {x-a: b}\n", environment: [:])
    #expect(config.isPolicyFree)
    // problem_types and client_address alone keep it policy-free too.
    let typed = try ConfigLoader.parse(
      "problem_types: {\"503\": {type: \"https://e.example/unavailable\"}}\nclient_address: peer\n", environment: [:])
    #expect(typed.isPolicyFree)
    #expect(typed.problemTypes[503] == ProblemType(type: "https://e.example/unavailable", title: "Service Unavailable"))
  }

  @Test("http_mode.path_prefix can be set from the environment")
  func httpModeFromEnvironment() throws {
    let config = try ConfigLoader.parse("", environment: ["AUGMENTER_HTTP_MODE__PATH_PREFIX": "/ext-authz"])
    #expect(config.httpModePathPrefix == "/ext-authz")
    let found = problems("", environment: ["AUGMENTER_HTTP_MODE__PATH_PREFIX": "nope/"])
    #expect(found.map(\.keyPath) == ["http_mode.path_prefix"])
    #expect(found.first?.message.contains("AUGMENTER_HTTP_MODE__PATH_PREFIX") == true)
  }

  struct Case: Sendable, CustomTestStringConvertible {
    var name: String
    var yaml: String
    var keyPath: String
    var fragment: String
    var testDescription: String { name }
  }

  static let cases: [Case] = [
    Case(
      name: "bad template in a header", yaml: "headers:\n  x-a: {template: \"Hello {authorty}\"}",
      keyPath: "headers.x-a.template", fragment: "unknown placeholder {authorty}"),
    Case(
      name: "unclosed template in a redirect",
      yaml: "rules:\n  - redirect: {location: \"https://x{path\"}", keyPath: "rules[0].redirect.location", fragment: "unclosed"),
    Case(
      name: "bad CIDR in a list",
      yaml:
        "rules:\n  - match: {path_prefix: /}\n    deny: {}\n  - match: {path_prefix: /}\n    deny: {}\n  - match: {client_cidr: [10.0.0.0/8, 10.0.0.300/32]}\n    deny: {}",
      keyPath: "rules[2].match.client_cidr[1]", fragment: "expected an IPv4 or IPv6"),
    Case(
      name: "CIDR with host bits", yaml: "rules:\n  - match: {client_cidr: 192.168.1.10/24}\n    deny: {}",
      keyPath: "rules[0].match.client_cidr", fragment: "did you mean 192.168.1.0/24"),
    Case(
      name: "redirect status not a redirect", yaml: "rules:\n  - redirect: {status: 200, location: /x}",
      keyPath: "rules[0].redirect.status", fragment: "301, 302, 303, 307 or 308"),
    Case(
      name: "deny with a 5xx", yaml: "rules:\n  - deny: {status: 503}", keyPath: "rules[0].deny.status",
      fragment: "must be a 4xx status"),
    Case(
      name: "deny with an undefined 4xx", yaml: "rules:\n  - deny: {status: 418}", keyPath: "rules[0].deny.status",
      fragment: "4xx status Envoy knows"),
    Case(
      name: "deny with a 2xx", yaml: "rules:\n  - deny: {status: 200}", keyPath: "rules[0].deny.status", fragment: "4xx"),
    Case(
      name: "unknown profile", yaml: "profiles: {a: {}}\nrules:\n  - allow: {profile: b}", keyPath: "rules[0].allow.profile",
      fragment: "unknown profile \"b\"; known: a"),
    Case(
      name: "unknown provider in a rule", yaml: "providers:\n" + providerYAML() + "rules:\n  - allow: {providers: [sidecar, nope]}",
      keyPath: "rules[0].allow.providers[1]", fragment: "unknown provider \"nope\"; known: sidecar"),
    Case(
      name: "unknown provider in a profile", yaml: "profiles:\n  t: {providers: [ghost]}", keyPath: "profiles.t.providers[0]",
      fragment: "no providers are configured"),
    Case(
      name: "unknown provider in a template", yaml: "providers:\n" + providerYAML() + "headers:\n  x-a: {template: \"{provider:other:x}\"}",
      keyPath: "headers.x-a.template", fragment: "unknown provider"),
    Case(
      name: "two outcomes", yaml: "rules:\n  - allow: {}\n    deny: {}", keyPath: "rules[0]", fragment: "allow and deny"),
    Case(name: "no outcome", yaml: "rules:\n  - match: {path_prefix: /}", keyPath: "rules[0]", fragment: "missing an outcome"),
    Case(
      name: "unreachable rule", yaml: "rules:\n  - deny: {}\n  - match: {path_prefix: /}\n    allow: {}",
      keyPath: "rules[1]", fragment: "never reached: rules[0] matches every request"),
    Case(name: "default after a catch-all", yaml: "rules:\n  - deny: {}\ndefault: {allow: {}}", keyPath: "default", fragment: "never used"),
    Case(
      name: "default as a rate limit", yaml: "default: {rate_limit: {requests_per_second: 1}}", keyPath: "default.rate_limit",
      fragment: "cannot be a rate limit"),
    Case(
      name: "rate zero", yaml: "rules:\n  - rate_limit: {requests_per_second: 0}", keyPath: "rules[0].rate_limit.requests_per_second",
      fragment: "0.001"),
    Case(
      name: "rate missing", yaml: "rules:\n  - rate_limit: {burst: 3}", keyPath: "rules[0].rate_limit.requests_per_second",
      fragment: "missing"),
    Case(
      name: "burst zero", yaml: "rules:\n  - rate_limit: {requests_per_second: 1, burst: 0}", keyPath: "rules[0].rate_limit.burst",
      fragment: "from 1"),
    Case(
      name: "max_keys too large", yaml: "rules:\n  - rate_limit: {requests_per_second: 1, max_keys: 99999999}",
      keyPath: "rules[0].rate_limit.max_keys", fragment: "1048576"),
    Case(
      name: "unknown match key with suggestion", yaml: "rules:\n  - match: {path_prefx: /a}\n    deny: {}",
      keyPath: "rules[0].match.path_prefx", fragment: "path_prefix"),
    Case(
      name: "path without slash", yaml: "rules:\n  - match: {path_prefix: api}\n    deny: {}", keyPath: "rules[0].match.path_prefix",
      fragment: "starting with /"),
    Case(
      name: "bad host pattern", yaml: "rules:\n  - match: {authority: [ok.example, \"bad host\"]}\n    deny: {}",
      keyPath: "rules[0].match.authority[1]", fragment: "host pattern"),
    Case(
      name: "bad method", yaml: "rules:\n  - match: {method: \"GE T\"}\n    deny: {}", keyPath: "rules[0].match.method",
      fragment: "method name"),
    Case(
      name: "bad header action", yaml: "headers:\n  x-a: {value: b, action: replace}", keyPath: "headers.x-a.action",
      fragment: "set, append, add_if_absent or remove"),
    Case(
      name: "remove with a value", yaml: "headers:\n  x-a: {value: b, action: remove}", keyPath: "headers.x-a.value",
      fragment: "takes no value"),
    Case(name: "value and template", yaml: "headers:\n  x-a: {value: b, template: c}", keyPath: "headers.x-a", fragment: "not both"),
    Case(name: "no value", yaml: "headers:\n  x-a: {action: append}", keyPath: "headers.x-a", fragment: "missing value or template"),
    Case(
      name: "bad header name in a rule", yaml: "rules:\n  - allow: {headers: {\"x a\": b}}", keyPath: "rules[0].allow.headers.x a",
      fragment: "token"),
    Case(
      name: "CR in a literal template part", yaml: "headers:\n  x-a: {template: \"a\\r\\nb {method}\"}", keyPath: "headers.x-a.template",
      fragment: "CR or LF"),
    Case(
      name: "duplicate between plain and mapped headers", yaml: "headers:\n  x-a: {template: \"{method}\"}\n  X-A: plain",
      keyPath: "headers.X-A", fragment: "duplicate"),
    Case(
      name: "deny header with another action", yaml: "rules:\n  - deny: {headers: {x-a: {value: b, action: append}}}",
      keyPath: "rules[0].deny.headers.x-a", fragment: "only be set"),
    Case(
      name: "deny overriding content-type", yaml: "rules:\n  - deny: {headers: {content-type: text/plain}}",
      keyPath: "rules[0].deny.headers.content-type", fragment: "application/problem+json"),
    Case(
      name: "provider header action remove", yaml: "providers:\n" + providerYAML("header_actions: {x-a: remove}"),
      keyPath: "providers[0].header_actions.x-a", fragment: "expected set, append or add_if_absent"),
    Case(
      name: "client_address header missing", yaml: "client_address: {from: header}", keyPath: "client_address.header",
      fragment: "missing"),
    Case(
      name: "client_address trusted_hops zero", yaml: "client_address: {from: header, header: x-forwarded-for, trusted_hops: 0}",
      keyPath: "client_address.trusted_hops", fragment: "1 or more"),
    Case(name: "client_address from", yaml: "client_address: {from: socket}", keyPath: "client_address.from", fragment: "peer or header"),
    Case(name: "problem type status", yaml: "problem_types: {\"200\": {title: x}}", keyPath: "problem_types.200", fragment: "400 to 599"),
    Case(
      name: "problem type URI", yaml: "problem_types: {\"429\": {type: \"not a uri\"}}", keyPath: "problem_types.429.type",
      fragment: "URI"),
    Case(
      name: "profile name", yaml: "profiles: {Tenant A: {}}", keyPath: "profiles.Tenant A", fragment: "a-z, 0-9"),
    Case(
      name: "http_mode prefix", yaml: "http_mode: {path_prefix: ext-authz/}", keyPath: "http_mode.path_prefix",
      fragment: "starting with /"),
    Case(
      name: "on_unavailable in a rule", yaml: "rules:\n  - allow: {on_unavailable: maybe}", keyPath: "rules[0].allow.on_unavailable",
      fragment: "allow or deny"),
  ]

  @Test("each policy rule reports its key path", arguments: cases)
  func validation(_ testCase: Case) {
    let found = problems(testCase.yaml)
    #expect(
      found.contains { $0.keyPath == testCase.keyPath && $0.message.contains(testCase.fragment) },
      "expected \(testCase.keyPath): …\(testCase.fragment)…, got \(found.map(\.description))")
  }

  @Test("one file with many mistakes reports all of them")
  func allAtOnce() {
    let found = problems(
      """
      rules:
        - match: {client_cidr: [nope]}
          deny: {status: 500}
        - redirect: {status: 302, location: "{bad}"}
        - allow: {profile: ghost}
      """)
    let paths = Set(found.map(\.keyPath))
    #expect(
      paths.isSuperset(of: [
        "rules[0].match.client_cidr[0]", "rules[0].deny.status", "rules[1].redirect.location", "rules[2].allow.profile",
      ]))
  }

  @Test("configurations built in code are validated too")
  func builtInCode() throws {
    let config = AugmenterConfig(
      rules: [
        PolicyRule(outcome: .deny(DenyOutcome(status: 502))),
        PolicyRule(outcome: .allow(AllowOutcome(profile: "x"))),
      ])
    let found = ConfigLoader.validate(config)
    #expect(found.contains { $0.keyPath == "rules[0].deny.status" })
    #expect(found.contains { $0.keyPath == "rules[1].allow.profile" })
    #expect(found.contains { $0.keyPath == "rules[1]" && $0.message.contains("never reached") })
  }
}

@Suite("Digit separators")
struct DigitSeparatorTests {
  @Test("whole and fractional numbers share one rule: `_` separates digits, never leads")
  func separators() throws {
    let config = try ConfigLoader.parse(
      "grpc: {max_message_bytes: 8_192}\nrules:\n  - rate_limit: {requests_per_second: 1_000.5}", environment: [:])
    #expect(config.grpcMaxMessageBytes == 8192)
    guard case .rateLimit(let limit)? = config.rules.first?.outcome else {
      Issue.record("expected a rate limit, got \(String(describing: config.rules.first))")
      return
    }
    #expect(limit.requestsPerSecond == 1000.5)

    let found = problems("grpc: {max_message_bytes: _8192}\nrules:\n  - rate_limit: {requests_per_second: _5}")
    #expect(found.contains(ConfigProblem(keyPath: "grpc.max_message_bytes", message: "expected a whole number, got \"_8192\"")))
    #expect(
      found.contains(ConfigProblem(keyPath: "rules[0].rate_limit.requests_per_second", message: "expected a number, got \"_5\"")),
      "\(found)")
  }
}
