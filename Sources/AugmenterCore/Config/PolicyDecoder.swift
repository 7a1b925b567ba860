// Reading the policy keys: headers with actions and templates, client_address, profiles,
// rules, default, problem_types. Shapes and syntax only (templates and CIDR ranges are compiled
// here, so their errors carry the key path); references and ranges are checked by the validator.

extension ConfigDecoder {
  // MARK: - Headers

  /// Top-level `headers`: plain `name: value` entries stay `HeaderField`s (the original static
  /// headers); entries written as mappings become `HeaderRule`s.
  mutating func topLevelHeaders(_ node: ConfigNode, _ path: String) -> ([HeaderField], [HeaderRule]) {
    var fields: [HeaderField] = []
    var rules: [HeaderRule] = []
    guard let entries = headerEntries(node, path) else { return ([], []) }
    for entry in entries {
      let keyPath = "\(path).\(entry.key)"
      if case .scalar(let value) = entry.value {
        // Names stay as written until validation, so problems quote the key the user wrote;
        // the loader lower-cases them afterwards.
        fields.append(HeaderField(name: entry.key, value: value))
      } else if let rule = headerRule(entry, keyPath) {
        rules.append(rule)
      }
    }
    return (fields, rules)
  }

  /// A `headers` mapping of a profile, an allow or a deny.
  mutating func headerRules(_ node: ConfigNode, _ path: String) -> [HeaderRule] {
    guard let entries = headerEntries(node, path) else { return [] }
    return entries.compactMap { headerRule($0, "\(path).\($0.key)") }
  }

  private mutating func headerEntries(_ node: ConfigNode, _ path: String) -> [ConfigEntry]? {
    switch node {
    case .null:
      return nil
    case .mapping(let entries):
      return entries
    default:
      fail(path, "expected a mapping of header names to values, got \(node.kind)")
      return nil
    }
  }

  /// `name: "value"` or `name: {value|template: ..., action: ...}`.
  private mutating func headerRule(_ entry: ConfigEntry, _ keyPath: String) -> HeaderRule? {
    switch entry.value {
    case .scalar(let value):
      return HeaderRule(name: entry.key, value: .literal(value))
    case .null:
      fail(keyPath, "the value is missing (write \"\" for an empty value, or {action: remove})")
      return nil
    case .sequence:
      fail(keyPath, "expected a value, or a mapping with value, template and action; got a list")
      return nil
    case .mapping:
      let sub = section(entry.value, keyPath, known: ConfigSchema.headerEntry)
      var action = HeaderAction.set
      var value: HeaderRule.Value?
      var sourceKeys: [String] = []
      var valid = true
      for item in sub {
        let itemPath = "\(keyPath).\(item.key)"
        switch item.key {
        case "action":
          if let text = string(item.value, itemPath) {
            if let parsed = HeaderAction(rawValue: text.lowercased()) {
              action = parsed
            } else {
              fail(itemPath, "expected set, append, add_if_absent or remove, got \"\(text)\"")
              valid = false
            }
          } else {
            valid = false
          }
        case "value":
          sourceKeys.append(item.key)
          if let text = string(item.value, itemPath) { value = .literal(text) } else { valid = false }
        case "template":
          sourceKeys.append(item.key)
          if let template = template(item.value, itemPath) { value = .template(template) } else { valid = false }
        default:
          break
        }
      }
      guard valid else {
        failed.insert(keyPath)
        return nil
      }
      if sourceKeys.count > 1 {
        fail(keyPath, "give either value or template, not both")
        return nil
      }
      if action == .remove {
        if !sourceKeys.isEmpty {
          fail("\(keyPath).\(sourceKeys[0])", "a header with action remove takes no \(sourceKeys[0])")
          return nil
        }
        return HeaderRule(name: entry.key, value: .none, action: .remove)
      }
      guard let value else {
        fail(keyPath, "missing value or template (only action remove goes without one)")
        return nil
      }
      return HeaderRule(name: entry.key, value: value, action: action)
    }
  }

  /// A template scalar, compiled.
  mutating func template(_ node: ConfigNode, _ path: String) -> Template? {
    guard let text = string(node, path) else { return nil }
    do {
      return try Template(text)
    } catch {
      fail(path, error.message)
      return nil
    }
  }

  /// A provider's `header_actions`: header name (or `*`) to action.
  mutating func headerActions(_ node: ConfigNode, _ path: String) -> [String: HeaderAction] {
    guard let entries = headerEntries(node, path) else { return [:] }
    var actions: [String: HeaderAction] = [:]
    for entry in entries {
      let keyPath = "\(path).\(entry.key)"
      guard let text = string(entry.value, keyPath) else { continue }
      guard let action = HeaderAction(rawValue: text.lowercased()), action != .remove else {
        fail(keyPath, "expected set, append or add_if_absent, got \"\(text)\"")
        continue
      }
      actions[entry.key] = action
    }
    return actions
  }

  // MARK: - Client address

  mutating func clientAddress(_ node: ConfigNode, _ path: String) -> ClientAddressSource? {
    if case .scalar(let text) = node {
      // Shorthand: `client_address: peer`.
      if text.lowercased() == "peer" { return .peer }
      fail(path, "expected peer, or a mapping {from: header, header: x-real-ip, trusted_hops: 1}")
      return nil
    }
    guard case .mapping = node else {
      if case .null = node { return nil }
      fail(path, "expected a mapping {from: peer|header, header: NAME, trusted_hops: N}, got \(node.kind)")
      return nil
    }
    var from = "peer"
    var header: String?
    var trustedHops = 1
    var valid = true
    for entry in section(node, path, known: ConfigSchema.clientAddress) {
      let keyPath = "\(path).\(entry.key)"
      switch entry.key {
      case "from":
        if let text = string(entry.value, keyPath) { from = text.lowercased() } else { valid = false }
      case "header":
        if let text = string(entry.value, keyPath) { header = text } else { valid = false }
      case "trusted_hops":
        if let value = integer(entry.value, keyPath) {
          if value < 1 {
            fail(keyPath, "must be 1 or more (1: the rightmost address, which the nearest proxy wrote)")
            valid = false
          }
          trustedHops = value
        } else {
          valid = false
        }
      default:
        break
      }
    }
    guard valid else { return nil }
    switch from {
    case "peer":
      if header != nil {
        fail("\(path).header", "only used with from: header")
        return nil
      }
      return .peer
    case "header":
      guard let header else {
        fail("\(path).header", "missing; from: header needs the header's name, e.g. x-real-ip or x-forwarded-for")
        return nil
      }
      if let problem = HeaderRules.lookupNameProblem(header) {
        fail("\(path).header", problem)
        return nil
      }
      return .header(name: header.lowercased(), trustedHops: trustedHops)
    default:
      fail("\(path).from", "expected peer or header, got \"\(from)\"")
      return nil
    }
  }

  // MARK: - Profiles

  mutating func profiles(_ node: ConfigNode, _ path: String) -> [ProfileConfig] {
    switch node {
    case .null:
      return []
    case .mapping(let entries):
      return entries.map { entry in
        let keyPath = "\(path).\(entry.key)"
        var profile = ProfileConfig(name: entry.key)
        guard case .mapping = entry.value else {
          if case .null = entry.value { return profile }
          fail(keyPath, "expected a profile mapping with providers, headers, on_unavailable; got \(entry.value.kind)")
          return profile
        }
        for sub in section(entry.value, keyPath, known: ConfigSchema.profile) {
          let subPath = "\(keyPath).\(sub.key)"
          switch sub.key {
          case "providers": profile.providers = stringList(sub.value, subPath)
          case "headers": profile.headers = headerRules(sub.value, subPath)
          case "on_unavailable": profile.onUnavailable = unavailablePolicy(sub.value, subPath)
          default: break
          }
        }
        return profile
      }
    default:
      fail(path, "expected a mapping of profile names to profiles, got \(node.kind)")
      return []
    }
  }

  // MARK: - Rules

  mutating func rules(_ node: ConfigNode, _ path: String) -> [PolicyRule] {
    switch node {
    case .null:
      return []
    case .sequence(let elements):
      var rules: [PolicyRule] = []
      for (index, element) in elements.enumerated() {
        guard let rule = rule(element, "\(path)[\(index)]") else { continue }
        rules.append(rule)
        // A rule that could not be read is left out; later ones keep their key paths.
        ruleSourceIndices.append(index)
      }
      return rules
    default:
      fail(path, "expected a list of rules, each with a match and one of \(ConfigSchema.outcomes.joined(separator: ", ")); got \(node.kind)")
      return []
    }
  }

  private mutating func rule(_ node: ConfigNode, _ path: String) -> PolicyRule? {
    guard case .mapping = node else {
      fail(path, "expected a rule mapping with a match and one of \(ConfigSchema.outcomes.joined(separator: ", ")); got \(node.kind)")
      return nil
    }
    let entries = section(node, path, known: ConfigSchema.rule)
    var name: String?
    var match = RuleMatch()
    for entry in entries {
      let keyPath = "\(path).\(entry.key)"
      switch entry.key {
      case "name": name = string(entry.value, keyPath)
      case "match": match = self.match(entry.value, keyPath)
      default: break
      }
    }
    guard let outcome = outcome(entries, path, allowRateLimit: true) else { return nil }
    return PolicyRule(name: name, match: match, outcome: outcome)
  }

  /// The `default` outcome: a mapping with one of allow, redirect, deny.
  mutating func defaultOutcome(_ node: ConfigNode, _ path: String) -> RuleOutcome? {
    guard case .mapping = node else {
      if case .null = node { return nil }
      fail(path, "expected a mapping with one of allow, redirect, deny; got \(node.kind)")
      return nil
    }
    let entries = section(node, path, known: ["allow", "redirect", "deny", "rate_limit"])
    return outcome(entries, path, allowRateLimit: false)
  }

  private mutating func outcome(_ entries: [ConfigEntry], _ path: String, allowRateLimit: Bool) -> RuleOutcome? {
    let given = entries.filter { ConfigSchema.outcomes.contains($0.key) }
    let expected = allowRateLimit ? "allow, redirect, deny or rate_limit" : "allow, redirect or deny"
    guard given.count == 1, let entry = given.first else {
      if given.isEmpty {
        fail(path, "missing an outcome: give exactly one of \(expected)")
      } else {
        fail(path, "give exactly one outcome, got \(given.map(\.key).joined(separator: " and "))")
      }
      return nil
    }
    let keyPath = "\(path).\(entry.key)"
    switch entry.key {
    case "allow":
      return .allow(allow(entry.value, keyPath))
    case "redirect":
      return redirect(entry.value, keyPath).map(RuleOutcome.redirect)
    case "deny":
      return .deny(deny(entry.value, keyPath))
    default:
      guard allowRateLimit else {
        fail(keyPath, "the default cannot be a rate limit (a rate limit passes requests on to a later rule); put it in rules")
        return nil
      }
      return rateLimit(entry.value, keyPath).map(RuleOutcome.rateLimit)
    }
  }

  private mutating func match(_ node: ConfigNode, _ path: String) -> RuleMatch {
    var match = RuleMatch()
    for entry in section(node, path, known: ConfigSchema.match) {
      let keyPath = "\(path).\(entry.key)"
      switch entry.key {
      case "authority":
        for item in stringItems(entry.value, keyPath) {
          if let problem = HostGlob.problem(item.value) {
            fail(item.path, problem)
          } else {
            match.authorities.append(HostGlob(item.value))
          }
        }
      case "path_prefix", "path_exact":
        for item in stringItems(entry.value, keyPath) {
          if !item.value.hasPrefix("/") || item.value.contains(where: { $0 == "?" || $0.isWhitespace }) {
            fail(item.path, "expected a path starting with / (without query or spaces), got \"\(item.value)\"")
          } else if entry.key == "path_prefix" {
            match.pathPrefixes.append(item.value)
          } else {
            match.exactPaths.append(item.value)
          }
        }
      case "method":
        for item in stringItems(entry.value, keyPath) {
          if item.value.isEmpty || !item.value.utf8.allSatisfy(HeaderRules.isTokenByte) {
            fail(item.path, "expected a method name like GET, got \"\(item.value)\"")
          } else {
            match.methods.append(item.value.uppercased())
          }
        }
      case "client_cidr":
        for item in stringItems(entry.value, keyPath) {
          do {
            match.clientCIDRs.append(try CIDR(item.value.trimmingSpaces()))
          } catch {
            fail(item.path, error.message)
          }
        }
      case "header_present":
        for item in stringItems(entry.value, keyPath) {
          if let problem = HeaderRules.lookupNameProblem(item.value) {
            fail(item.path, problem)
          } else {
            match.headersPresent.append(item.value.lowercased())
          }
        }
      case "header_equals":
        for expected in expectedValues(entry.value, keyPath) {
          if let problem = HeaderRules.lookupNameProblem(expected.name) {
            fail("\(keyPath).\(expected.name)", problem)
          } else {
            match.headersEqual.append(ExpectedValue(name: expected.name.lowercased(), value: expected.value))
          }
        }
      case "context_extensions":
        match.contextExtensions = expectedValues(entry.value, keyPath)
      case "peer_identity":
        for item in stringItems(entry.value, keyPath) {
          if item.value.isEmpty || item.value.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
            fail(item.path, "expected an identity pattern like spiffe://cluster.local/ns/NS/sa/* (not empty, no control characters)")
          } else {
            match.peerIdentities.append(IdentityPattern(item.value))
          }
        }
      default:
        break
      }
    }
    return match
  }

  private mutating func allow(_ node: ConfigNode, _ path: String) -> AllowOutcome {
    var allow = AllowOutcome()
    if case .null = node { return allow }
    for entry in section(node, path, known: ConfigSchema.allow) {
      let keyPath = "\(path).\(entry.key)"
      switch entry.key {
      case "profile": allow.profile = string(entry.value, keyPath)
      case "providers": allow.providers = stringList(entry.value, keyPath)
      case "headers": allow.headers = headerRules(entry.value, keyPath)
      case "on_unavailable": allow.onUnavailable = unavailablePolicy(entry.value, keyPath)
      default: break
      }
    }
    return allow
  }

  private mutating func redirect(_ node: ConfigNode, _ path: String) -> RedirectOutcome? {
    var status = 302
    var location: Template?
    var sawLocation = false
    for entry in section(node, path, known: ConfigSchema.redirect) {
      let keyPath = "\(path).\(entry.key)"
      switch entry.key {
      case "status":
        if let value = integer(entry.value, keyPath) { status = value }
      case "location":
        sawLocation = true
        location = template(entry.value, keyPath)
      default:
        break
      }
    }
    if !sawLocation, !failed.contains(path) {
      fail("\(path).location", "missing; a redirect needs a location, e.g. \"https://other.example{path}\"")
    }
    guard let location else { return nil }
    return RedirectOutcome(status: status, location: location)
  }

  private mutating func deny(_ node: ConfigNode, _ path: String) -> DenyOutcome {
    var deny = DenyOutcome()
    if case .null = node { return deny }
    for entry in section(node, path, known: ConfigSchema.deny) {
      let keyPath = "\(path).\(entry.key)"
      switch entry.key {
      case "status":
        if let value = integer(entry.value, keyPath) { deny.status = value }
      case "detail":
        deny.detail = template(entry.value, keyPath)
      case "headers":
        deny.headers = headerRules(entry.value, keyPath)
      default:
        break
      }
    }
    return deny
  }

  private mutating func rateLimit(_ node: ConfigNode, _ path: String) -> RateLimitOutcome? {
    var key = try! Template("")
    var rate: Double?
    var burst: Int?
    var maxKeys = RateLimitOutcome.defaultMaxKeys
    var valid = true
    for entry in section(node, path, known: ConfigSchema.rateLimit) {
      let keyPath = "\(path).\(entry.key)"
      switch entry.key {
      case "key":
        if let template = template(entry.value, keyPath) { key = template } else { valid = false }
      case "requests_per_second":
        if let value = number(entry.value, keyPath) { rate = value } else { valid = false }
      case "burst":
        if let value = integer(entry.value, keyPath) { burst = value } else { valid = false }
      case "max_keys":
        if let value = integer(entry.value, keyPath) { maxKeys = value } else { valid = false }
      default:
        break
      }
    }
    guard let rate else {
      if valid, !failed.contains(path) {
        fail("\(path).requests_per_second", "missing; a rate limit needs requests_per_second (and optionally burst)")
      }
      return nil
    }
    guard valid else { return nil }
    return RateLimitOutcome(key: key, requestsPerSecond: rate, burst: burst, maxKeys: maxKeys)
  }

  // MARK: - Problem types

  mutating func problemTypes(_ node: ConfigNode, _ path: String) -> [Int: ProblemType] {
    guard case .mapping(let entries) = node else {
      if case .null = node { return [:] }
      fail(path, "expected a mapping of statuses to {type, title}, e.g. \"429\": {type: https://..., title: ...}; got \(node.kind)")
      return [:]
    }
    var types: [Int: ProblemType] = [:]
    for entry in entries {
      let keyPath = "\(path).\(entry.key)"
      guard let status = Int(entry.key), (400...599).contains(status) else {
        fail(keyPath, "expected an HTTP status from 400 to 599 as the key, got \"\(entry.key)\"")
        continue
      }
      var type = "about:blank"
      var title = ProblemDocument.reasonPhrase(status)
      for sub in section(entry.value, keyPath, known: ConfigSchema.problemType) {
        let subPath = "\(keyPath).\(sub.key)"
        guard let text = string(sub.value, subPath) else { continue }
        if sub.key == "type" { type = text } else { title = text }
      }
      types[status] = ProblemType(type: type, title: title)
    }
    return types
  }

  // MARK: - Small shapes

  /// A single value or a list of values, each with its key path (`path` for a single value,
  /// `path[i]` in a list).
  mutating func stringItems(_ node: ConfigNode, _ path: String) -> [(value: String, path: String)] {
    switch node {
    case .sequence(let elements):
      return elements.enumerated().compactMap { index, element in
        let itemPath = "\(path)[\(index)]"
        return string(element, itemPath).map { ($0, itemPath) }
      }
    default:
      return stringList(node, path).map { ($0, path) }
    }
  }

  /// A single value or a list of values.
  mutating func stringList(_ node: ConfigNode, _ path: String) -> [String] {
    switch node {
    case .scalar(let text):
      return [text]
    case .sequence(let elements):
      return elements.enumerated().compactMap { index, element in string(element, "\(path)[\(index)]") }
    case .null:
      fail(path, "the value is missing")
      return []
    case .mapping:
      fail(path, "expected a value or a list of values, got a mapping")
      return []
    }
  }

  /// A mapping of names to exact values.
  private mutating func expectedValues(_ node: ConfigNode, _ path: String) -> [ExpectedValue] {
    guard case .mapping(let entries) = node else {
      fail(path, "expected a mapping of names to values, got \(node.kind)")
      return []
    }
    return entries.compactMap { entry in
      string(entry.value, "\(path).\(entry.key)").map { ExpectedValue(name: entry.key, value: $0) }
    }
  }

  /// `allow` or `deny` (top-level, profile and allow `on_unavailable`).
  mutating func unavailablePolicy(_ node: ConfigNode, _ path: String) -> UnavailablePolicy? {
    guard let text = string(node, path) else { return nil }
    if let policy = UnavailablePolicy(rawValue: text.lowercased()) { return policy }
    fail(path, "expected allow or deny, got \"\(text)\"")
    return nil
  }

  /// A decimal number (`10`, `0.5`).
  mutating func number(_ node: ConfigNode, _ path: String) -> Double? {
    guard let text = string(node, path) else { return nil }
    guard let value = Self.withoutDigitSeparators(text).flatMap({ Double($0) }), value.isFinite else {
      fail(path, "expected a number, got \"\(text)\"")
      return nil
    }
    return value
  }
}
