// Cross-references and ranges of the policy keys: every profile and provider a rule names
// exists, statuses are ones Envoy can carry, rate limits are sane, no rule is unreachable.

extension ConfigValidator {
  /// `[a-z0-9_-]{1,64}`, the alphabet of provider, profile and rule names.
  static func isName(_ name: String) -> Bool {
    !name.isEmpty && name.utf8.count <= 64
      && name.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x5F || $0 == 0x2D }
  }

  mutating func validatePolicy(_ config: AugmenterConfig) {
    let providers = config.providers.map(\.name)

    validateHeaderRules(config.headerRules, "headers", providers: providers, checkDuplicates: false)

    for (index, provider) in config.providers.enumerated() {
      for (name, action) in provider.headerActions.sorted(by: { $0.key < $1.key }) {
        let keyPath = "providers[\(index)].header_actions.\(name)"
        if name != "*", let problem = HeaderRules.nameProblem(name) {
          check(keyPath, false, problem)
        }
        check(keyPath, action != .remove, "remove is not an action for a provider's headers (use a header with action remove)")
      }
    }

    if case .header(let name, let trustedHops) = config.clientAddress {
      if let problem = HeaderRules.lookupNameProblem(name) { check("client_address.header", false, problem) }
      check("client_address.trusted_hops", trustedHops >= 1, "must be 1 or more")
    }

    let profiles = config.profiles.map(\.name)
    for profile in config.profiles {
      let path = "profiles.\(profile.name)"
      check(path, Self.isName(profile.name), "a profile name must be 1 to 64 characters from a-z, 0-9, _ and -")
      validateProviderList(profile.providers, "\(path).providers", providers: providers)
      validateHeaderRules(profile.headers, "\(path).headers", providers: providers)
    }

    var catchAll: Int?
    for (position, rule) in config.rules.enumerated() {
      let index = position < ruleSourceIndices.count ? ruleSourceIndices[position] : position
      let path = "rules[\(index)]"
      if let catchAll {
        check(path, false, "never reached: rules[\(catchAll)] matches every request (it has no match conditions)")
      }
      if let name = rule.name {
        check("\(path).name", Self.isName(name), "a rule name must be 1 to 64 characters from a-z, 0-9, _ and -")
      }
      validateOutcome(rule.outcome, "\(path).\(rule.outcome.key)", providers: providers, profiles: profiles)
      if rule.match.matchesEverything, case .rateLimit = rule.outcome {
        // A rate limit passes what it lets through on: later rules are still reached.
      } else if rule.match.matchesEverything, catchAll == nil {
        catchAll = index
      }
    }
    if let outcome = config.defaultOutcome {
      if let catchAll {
        check("default", false, "never used: rules[\(catchAll)] matches every request (it has no match conditions)")
      }
      if case .rateLimit = outcome {
        check("default", false, "the default cannot be a rate limit")
      } else {
        validateOutcome(outcome, "default.\(outcome.key)", providers: providers, profiles: profiles)
      }
    }

    for (status, type) in config.problemTypes.sorted(by: { $0.key < $1.key }) {
      let path = "problem_types.\(status)"
      check(path, (400...599).contains(status), "expected an HTTP status from 400 to 599")
      check(
        "\(path).type",
        !type.type.isEmpty && !type.type.contains(where: { $0.isWhitespace }) && type.type.contains(":"),
        "expected a URI like https://errors.example/rate-limited or about:blank, got \"\(type.type)\"")
      check(
        "\(path).title", !type.title.isEmpty && !type.title.unicodeScalars.contains(where: { $0.value < 0x20 }),
        "must be a non-empty line of text")
    }

    if let prefix = config.httpModePathPrefix {
      check(
        "http_mode.path_prefix", prefix.hasPrefix("/") && !prefix.hasSuffix("/") && !prefix.contains("?"),
        "expected the path_prefix of Envoy's http_service, like /ext-authz (starting with /, not ending with /)")
    }
  }

  private mutating func validateOutcome(_ outcome: RuleOutcome, _ path: String, providers: [String], profiles: [String]) {
    switch outcome {
    case .allow(let allow):
      if let profile = allow.profile {
        check(
          "\(path).profile", profiles.contains(profile),
          "unknown profile \"\(profile)\""
            + (profiles.isEmpty ? " (no profiles are configured)" : "; known: \(profiles.joined(separator: ", "))"))
      }
      validateProviderList(allow.providers, "\(path).providers", providers: providers)
      validateHeaderRules(allow.headers, "\(path).headers", providers: providers)
      validateHeaderRules(allow.responseHeaders, "\(path).response_headers", providers: providers)
      for rule in allow.responseHeaders where rule.name.lowercased() == "content-length" {
        check("\(path).response_headers.\(rule.name)", false, "Envoy keeps the response's content-length; it cannot be changed here")
      }
    case .redirect(let redirect):
      check(
        "\(path).status", ProblemDocument.redirectStatuses.contains(redirect.status),
        "expected 301, 302, 303, 307 or 308, got \(redirect.status)")
      check("\(path).location", !redirect.location.source.trimmingSpaces().isEmpty, "must not be empty")
      validateTemplate(redirect.location, "\(path).location", providers: providers, asHeaderValue: true)
    case .deny(let deny):
      if (500...599).contains(deny.status) {
        check(
          "\(path).status", false,
          "must be a 4xx status, got \(deny.status): a policy decision is never a 5xx (HTTP-mode Envoy reads a 5xx as an error of the check and answers status_on_error instead)"
        )
      } else {
        check(
          "\(path).status", ProblemDocument.denyStatuses.contains(deny.status),
          "expected a 4xx status Envoy knows (\(ProblemDocument.denyStatuses.sorted().map(String.init).joined(separator: ", "))), got \(deny.status)"
        )
      }
      if let detail = deny.detail { validateTemplate(detail, "\(path).detail", providers: providers, asHeaderValue: false) }
      validateHeaderRules(deny.headers, "\(path).headers", providers: providers, response: true)
    case .rateLimit(let limit):
      check(
        "\(path).requests_per_second", limit.requestsPerSecond >= 0.001 && limit.requestsPerSecond <= 1_000_000,
        "must be from 0.001 to 1000000, got \(limit.requestsPerSecond)")
      check("\(path).burst", (1...1_000_000).contains(limit.burst), "must be from 1 to 1000000, got \(limit.burst)")
      check(
        "\(path).max_keys", (1...RateLimitOutcome.maxMaxKeys).contains(limit.maxKeys),
        "must be from 1 to \(RateLimitOutcome.maxMaxKeys), got \(limit.maxKeys)")
      validateTemplate(limit.key, "\(path).key", providers: providers, asHeaderValue: false)
    }
  }

  private mutating func validateProviderList(_ names: [String]?, _ path: String, providers: [String]) {
    guard let names else { return }
    for (index, name) in names.enumerated() {
      check(
        "\(path)[\(index)]", providers.contains(name),
        "unknown provider \"\(name)\""
          + (providers.isEmpty ? " (no providers are configured)" : "; known: \(providers.joined(separator: ", "))"))
    }
  }

  /// Names, values, duplicates and template references of a `headers` mapping.
  private mutating func validateHeaderRules(
    _ rules: [HeaderRule], _ path: String, providers: [String], response: Bool = false, checkDuplicates: Bool = true
  ) {
    var seen: [String: String] = [:]
    for rule in rules {
      let keyPath = "\(path).\(rule.name)"
      if let problem = HeaderRules.nameProblem(rule.name) {
        check(keyPath, false, problem)
      } else if checkDuplicates, let other = seen[rule.name.lowercased()] {
        check(keyPath, false, "duplicate of header \"\(other)\" (header names are case-insensitive)")
      } else {
        seen[rule.name.lowercased()] = rule.name
      }
      if response {
        check(keyPath, rule.action == .set, "a deny answer's headers can only be set, not \(rule.action.rawValue)")
        check(keyPath, rule.name.lowercased() != "content-type", "the content type of a deny is always application/problem+json")
      }
      switch rule.value {
      case .literal(let value):
        if let problem = HeaderRules.valueProblem(HeaderRules.trimmed(value).utf8, maxBytes: Self.maxStaticValueBytes) {
          check(keyPath, false, problem)
        }
      case .template(let template):
        validateTemplate(template, "\(keyPath).template", providers: providers, asHeaderValue: true)
      case .none:
        check(keyPath, rule.action == .remove, "a value or template is missing")
      }
    }
  }

  /// Provider references exist; literal text is valid header-value text.
  private mutating func validateTemplate(_ template: Template, _ path: String, providers: [String], asHeaderValue: Bool) {
    for name in template.providerNames {
      check(
        path, providers.contains(name),
        "{provider:\(name):...} names an unknown provider"
          + (providers.isEmpty ? " (no providers are configured)" : "; known: \(providers.joined(separator: ", "))"))
    }
    if asHeaderValue {
      for part in template.literalParts {
        if let problem = HeaderRules.valueProblem(part.utf8, maxBytes: Self.maxStaticValueBytes) {
          check(path, false, problem)
        }
      }
    }
  }
}
