// The keys of the policy mappings (header entries, client_address, profiles, rules and their
// match and outcomes, default, problem_types): one declaration each. Mappings whose keys depend
// on each other (a header's value or template, a rule's single outcome) are read into a draft
// that `PolicyDecoder` finishes.

// MARK: - Header entries

/// A header entry written as a mapping, while it is read.
struct HeaderRuleDraft {
  var action = HeaderAction.set
  var value: HeaderRule.Value?
  /// `value` and `template` as given, in file order (only one may be).
  var sourceKeys: [String] = []
  var valid = true
}

extension HeaderRule {
  /// The keys of a header entry written as a mapping (`name: {template: ..., action: ...}`).
  static let entryFields = ConfigFields<HeaderRuleDraft>([
    ConfigField("value", type: "string", example: "static-1", "A literal value (the same as writing it directly).") {
      decoder, node, path, draft in
      draft.sourceKeys.append("value")
      if let text = decoder.string(node, path) { draft.value = .literal(text) } else { draft.valid = false }
    },
    ConfigField(
      "template", type: "template", example: "Hello world from {authority}",
      "A value rendered per request from {method}, {path}, {authority}, {header:NAME}, {provider:NAME:HEADER}, ..."
    ) { decoder, node, path, draft in
      draft.sourceKeys.append("template")
      if let template = decoder.template(node, path) { draft.value = .template(template) } else { draft.valid = false }
    },
    ConfigField(
      "action", type: "one of set, append, add_if_absent, remove", default: "set", example: "append",
      "What the header does to the forwarded request; remove takes no value."
    ) { decoder, node, path, draft in
      guard let text = decoder.string(node, path) else {
        draft.valid = false
        return
      }
      if let parsed = HeaderAction(rawValue: text.lowercased()) {
        draft.action = parsed
      } else {
        decoder.fail(path, "expected set, append, add_if_absent or remove, got \"\(text)\"")
        draft.valid = false
      }
    },
  ])
}

// MARK: - Client address

/// `client_address` while it is read.
struct ClientAddressDraft {
  var from = "peer"
  var header: String?
  var trustedHops = 1
  var valid = true
}

extension ClientAddressSource {
  /// The keys of `client_address`.
  static let fields = ConfigFields<ClientAddressDraft>([
    ConfigField("from", type: "peer or header", default: "peer", example: "header", "Where the address comes from.") {
      decoder, node, path, draft in
      if let text = decoder.string(node, path) { draft.from = text.lowercased() } else { draft.valid = false }
    },
    ConfigField(
      "header", type: "header name", example: "x-forwarded-for",
      "With from: header, the header holding the address or a comma-separated list (x-real-ip, x-forwarded-for)."
    ) { decoder, node, path, draft in
      if let text = decoder.string(node, path) { draft.header = text } else { draft.valid = false }
    },
    ConfigField(
      "trusted_hops", type: "integer", default: "1", example: "2",
      "In a list, take the address this many entries from the right (1: the one the nearest proxy wrote)."
    ) { decoder, node, path, draft in
      guard let value = decoder.integer(node, path) else {
        draft.valid = false
        return
      }
      if value < 1 {
        decoder.fail(path, "must be 1 or more (1: the rightmost address, which the nearest proxy wrote)")
        draft.valid = false
      }
      draft.trustedHops = value
    },
  ])
}

// MARK: - Profiles

extension ProfileConfig {
  /// The keys of one profile.
  static let fields = ConfigFields<ProfileConfig>([
    ConfigField(
      "providers", type: "provider name or list", example: "[tokens]",
      "The providers whose headers the profile injects and needs; default every provider."
    ) { decoder, node, path, profile in
      profile.providers = decoder.stringList(node, path)
    },
    ConfigField(
      "headers", type: "header entries", shape: .namedEntries, environment: false, children: HeaderRule.entryFields.docs,
      "Headers added on top of the top-level headers."
    ) { decoder, node, path, profile in
      profile.headers = decoder.headerRules(node, path)
    },
    ConfigField(
      "on_unavailable", type: "allow or deny", example: "allow", "Overrides the top-level on_unavailable."
    ) { decoder, node, path, profile in
      profile.onUnavailable = decoder.unavailablePolicy(node, path)
    },
  ])
}

// MARK: - Outcomes

/// The outcome keys given in a rule or the default, read once it is known that exactly one was.
struct OutcomeDraft {
  /// Each outcome key given, in file order, with how to read it.
  var given: [(key: String, read: (inout ConfigDecoder) -> RuleOutcome?)] = []
}

/// A rule while it is read.
struct PolicyRuleDraft {
  var name: String?
  var match = RuleMatch()
  var outcome = OutcomeDraft()
}

/// A redirect while it is read.
struct RedirectDraft {
  var status = 302
  var location: Template?
  var sawLocation = false
}

/// A rate limit while it is read.
struct RateLimitDraft {
  var key = try! Template("")
  var requestsPerSecond: Double?
  var burst: Int?
  var maxKeys = RateLimitOutcome.defaultMaxKeys
  var valid = true
}

extension RuleOutcome {
  /// The outcome keys of a rule (`rateLimit: true`) or of the default, read into `keyPath`.
  static func fields<Draft>(
    _ keyPath: any WritableKeyPath<Draft, OutcomeDraft> & Sendable, rateLimit: Bool
  ) -> [ConfigField<Draft>] {
    func outcome(
      _ name: String, type: String, children: [ConfigKeyDoc], _ summary: String,
      _ read: @escaping @Sendable (inout ConfigDecoder, ConfigNode, String) -> RuleOutcome?
    ) -> ConfigField<Draft> {
      ConfigField(name, type: type, shape: .mapping, environment: false, children: children, summary) {
        _, node, path, draft in
        draft[keyPath: keyPath].given.append((name, { decoder in read(&decoder, node, path) }))
      }
    }
    return [
      outcome("allow", type: "mapping (may be empty)", children: AllowOutcome.fields.docs, "Forward the request with headers.") {
        decoder, node, path in .allow(decoder.allow(node, path))
      },
      outcome("redirect", type: "mapping", children: RedirectDraft.fields.docs, "Answer with a redirect.") {
        decoder, node, path in decoder.redirect(node, path).map(RuleOutcome.redirect)
      },
      outcome("deny", type: "mapping (may be empty)", children: DenyOutcome.fields.docs, "Answer with a problem+json error.") {
        decoder, node, path in .deny(decoder.deny(node, path))
      },
      outcome(
        "rate_limit", type: "mapping", children: rateLimit ? RateLimitDraft.fields.docs : [],
        rateLimit
          ? "A token bucket per key: over it, 429 problem+json; under it, the request goes on to the next rules."
          : "Not allowed here: a rate limit passes requests on to a later rule."
      ) { decoder, node, path in
        guard rateLimit else {
          decoder.fail(
            path, "the default cannot be a rate limit (a rate limit passes requests on to a later rule); put it in rules")
          return nil
        }
        return decoder.rateLimit(node, path).map(RuleOutcome.rateLimit)
      },
    ]
  }

  /// The keys of `default`.
  static let defaultFields = ConfigFields<OutcomeDraft>(RuleOutcome.fields(\.self, rateLimit: false))
}

extension PolicyRule {
  /// The keys of one rule.
  static let fields = ConfigFields<PolicyRuleDraft>(
    [
      ConfigField("name", type: "string", example: "partners", "A name for logs (and metrics, later).") {
        decoder, node, path, draft in draft.name = decoder.string(node, path)
      },
      ConfigField(
        "match", type: "mapping", shape: .mapping, environment: false, children: RuleMatch.fields.docs,
        "The conditions; all given must hold, any listed value of one may match. None: every request."
      ) { decoder, node, path, draft in
        decoder.read(node, path, RuleMatch.fields, into: &draft.match)
      },
    ] + RuleOutcome.fields(\.outcome, rateLimit: true))
}

// MARK: - Match

extension RuleMatch {
  /// The keys of a rule's `match`. Each takes one value or a list.
  static let fields = ConfigFields<RuleMatch>([
    ConfigField(
      "authority", type: "host pattern or list", example: "\"*.example.com\"", "The request's host matches one (`*` for a label run)."
    ) {
      decoder, node, path, match in
      for item in decoder.stringItems(node, path) {
        if let problem = HostGlob.problem(item.value) {
          decoder.fail(item.path, problem)
        } else {
          match.authorities.append(HostGlob(item.value))
        }
      }
    },
    ConfigField("path_prefix", type: "path or list", example: "/api/", "The path (without query) starts with one.") {
      decoder, node, path, match in match.pathPrefixes += decoder.requestPaths(node, path)
    },
    ConfigField("path_exact", type: "path or list", example: "/login", "The path (without query) is one of these.") {
      decoder, node, path, match in match.exactPaths += decoder.requestPaths(node, path)
    },
    ConfigField("method", type: "method or list", example: "[GET, HEAD]", "The method is one of these.") {
      decoder, node, path, match in
      for item in decoder.stringItems(node, path) {
        if item.value.isEmpty || !item.value.utf8.allSatisfy(HeaderRules.isTokenByte) {
          decoder.fail(item.path, "expected a method name like GET, got \"\(item.value)\"")
        } else {
          match.methods.append(item.value.uppercased())
        }
      }
    },
    ConfigField(
      "client_cidr", type: "CIDR or list", example: "10.0.0.0/8", "The client address (see client_address) is in one."
    ) { decoder, node, path, match in
      for item in decoder.stringItems(node, path) {
        do throws(CIDRError) {
          match.clientCIDRs.append(try CIDR(item.value.trimmingSpaces()))
        } catch {
          decoder.fail(item.path, error.message)
        }
      }
    },
    ConfigField("header_present", type: "header name or list", example: "x-partner", "Every one of these headers is present.") {
      decoder, node, path, match in
      for item in decoder.stringItems(node, path) {
        if let problem = HeaderRules.lookupNameProblem(item.value) {
          decoder.fail(item.path, problem)
        } else {
          match.headersPresent.append(item.value.lowercased())
        }
      }
    },
    ConfigField(
      "header_equals", type: "header name → value", example: "{x-tenant: blue}", shape: .namedEntries,
      environment: false,
      "Every one of these headers has exactly this value."
    ) { decoder, node, path, match in
      for expected in decoder.expectedValues(node, path) {
        if let problem = HeaderRules.lookupNameProblem(expected.name) {
          decoder.fail("\(path).\(expected.name)", problem)
        } else {
          match.headersEqual.append(ExpectedValue(name: expected.name.lowercased(), value: expected.value))
        }
      }
    },
    ConfigField(
      "context_extensions", type: "name → value", example: "{route: partner}", shape: .namedEntries,
      environment: false,
      "Every one of these Envoy context extensions has exactly this value."
    ) { decoder, node, path, match in
      match.contextExtensions = decoder.expectedValues(node, path)
    },
    ConfigField(
      "peer_identity", type: "identity pattern or list", example: "spiffe://cluster.local/ns/shop/sa/*",
      "The caller's verified TLS client identity matches one (`*` for any run, case-sensitive)."
    ) { decoder, node, path, match in
      for item in decoder.stringItems(node, path) {
        if item.value.isEmpty || item.value.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
          decoder.fail(
            item.path, "expected an identity pattern like spiffe://cluster.local/ns/NS/sa/* (not empty, no control characters)")
        } else {
          match.peerIdentities.append(IdentityPattern(item.value))
        }
      }
    },
  ])
}

// MARK: - Outcome mappings

extension AllowOutcome {
  /// The keys of `allow`.
  static let fields = ConfigFields<AllowOutcome>([
    ConfigField("profile", type: "profile name", example: "partners", "Take providers, headers and on_unavailable from this profile.") {
      decoder, node, path, allow in allow.profile = decoder.string(node, path)
    },
    ConfigField("providers", type: "provider name or list", example: "[tokens]", "The providers whose headers are injected.") {
      decoder, node, path, allow in allow.providers = decoder.stringList(node, path)
    },
    ConfigField(
      "headers", type: "header entries", shape: .namedEntries, environment: false, children: HeaderRule.entryFields.docs,
      "Headers added for this rule."
    ) { decoder, node, path, allow in
      allow.headers = decoder.headerRules(node, path)
    },
    ConfigField("on_unavailable", type: "allow or deny", example: "allow", "Overrides on_unavailable for this rule.") {
      decoder, node, path, allow in allow.onUnavailable = decoder.unavailablePolicy(node, path)
    },
    ConfigField(
      "response_headers", type: "header entries (literal values)", shape: .namedEntries, environment: false,
      children: HeaderRule.entryFields.docs.filter { $0.name != "template" },
      "Header actions on the upstream's response (security headers, say), in the syntax of headers; ext_proc only, "
        + "with response headers sent. add_if_absent and append look at the response's headers."
    ) { decoder, node, path, allow in
      let rules = decoder.headerRules(node, path)
      // A response is answered long after the request's attributes are gone: values are fixed.
      for rule in rules {
        if case .template(let template) = rule.value, template.literalText == nil {
          decoder.fail("\(path).\(rule.name)", "response headers take literal values, not templates")
        }
      }
      allow.responseHeaders = rules
    },
  ])
}

extension RedirectDraft {
  /// The keys of `redirect`.
  static let fields = ConfigFields<RedirectDraft>([
    ConfigField("status", type: "integer", default: "302", example: "307", "The redirect status (301, 302, 303, 307, 308).") {
      decoder, node, path, draft in
      if let value = decoder.integer(node, path) { draft.status = value }
    },
    ConfigField(
      "location", type: "template", example: "https://other.example{path}", "Where to; required."
    ) { decoder, node, path, draft in
      draft.sawLocation = true
      draft.location = decoder.template(node, path)
    },
  ])
}

extension DenyOutcome {
  /// The keys of `deny`.
  static let fields = ConfigFields<DenyOutcome>([
    ConfigField("status", type: "integer", default: "403", example: "401", "The status of the problem+json answer.") {
      decoder, node, path, deny in
      if let value = decoder.integer(node, path) { deny.status = value }
    },
    ConfigField("detail", type: "template", example: "no access to {path}", "The problem document's detail.") {
      decoder, node, path, deny in deny.detail = decoder.template(node, path)
    },
    ConfigField(
      "headers", type: "header entries", shape: .namedEntries, environment: false, children: HeaderRule.entryFields.docs,
      "Headers on the answer."
    ) { decoder, node, path, deny in
      deny.headers = decoder.headerRules(node, path)
    },
  ])
}

extension RateLimitDraft {
  /// The keys of `rate_limit`.
  static let fields = ConfigFields<RateLimitDraft>([
    ConfigField("key", type: "template", default: "\"\" (one bucket)", example: "\"{client_address}\"", "What a bucket is kept per.") {
      decoder, node, path, draft in
      if let template = decoder.template(node, path) { draft.key = template } else { draft.valid = false }
    },
    ConfigField("requests_per_second", type: "number", example: "10", "The refill rate; required.") {
      decoder, node, path, draft in
      if let value = decoder.number(node, path) { draft.requestsPerSecond = value } else { draft.valid = false }
    },
    ConfigField("burst", type: "integer", default: "requests_per_second, at least 1", example: "20", "The bucket's size.") {
      decoder, node, path, draft in
      if let value = decoder.integer(node, path) { draft.burst = value } else { draft.valid = false }
    },
    ConfigField(
      "max_keys", type: "integer", default: String(RateLimitOutcome.defaultMaxKeys), example: "1000",
      "Buckets kept at most; the least recently used goes first."
    ) { decoder, node, path, draft in
      if let value = decoder.integer(node, path) { draft.maxKeys = value } else { draft.valid = false }
    },
  ])
}

// MARK: - Problem types

extension ProblemType {
  /// The keys of one `problem_types` entry.
  static let fields = ConfigFields<ProblemType>([
    ConfigField("type", type: "URI", default: "about:blank", example: "https://errors.example/rate-limited", "The problem type URI.") {
      decoder, node, path, problem in
      if let text = decoder.string(node, path) { problem.type = text }
    },
    ConfigField("title", type: "string", default: "the status's reason phrase", example: "Slow down", "The problem title.") {
      decoder, node, path, problem in
      if let text = decoder.string(node, path) { problem.title = text }
    },
  ])
}
