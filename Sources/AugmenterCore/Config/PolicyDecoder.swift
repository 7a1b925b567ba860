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
      var draft = HeaderRuleDraft()
      read(entry.value, keyPath, HeaderRule.entryFields, into: &draft)
      let (action, value, sourceKeys) = (draft.action, draft.value, draft.sourceKeys)
      guard draft.valid else {
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
    var draft = ClientAddressDraft()
    read(node, path, ClientAddressSource.fields, into: &draft)
    let (from, header, trustedHops) = (draft.from, draft.header, draft.trustedHops)
    guard draft.valid else { return nil }
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
        read(entry.value, keyPath, ProfileConfig.fields, into: &profile)
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
      fail(
        path, "expected a list of rules, each with a match and one of \(ConfigSchema.outcomes.joined(separator: ", ")); got \(node.kind)")
      return []
    }
  }

  private mutating func rule(_ node: ConfigNode, _ path: String) -> PolicyRule? {
    guard case .mapping = node else {
      fail(path, "expected a rule mapping with a match and one of \(ConfigSchema.outcomes.joined(separator: ", ")); got \(node.kind)")
      return nil
    }
    var draft = PolicyRuleDraft()
    read(node, path, PolicyRule.fields, into: &draft)
    guard let outcome = outcome(draft.outcome, path, allowRateLimit: true) else { return nil }
    return PolicyRule(name: draft.name, match: draft.match, outcome: outcome)
  }

  /// The `default` outcome: a mapping with one of allow, redirect, deny.
  mutating func defaultOutcome(_ node: ConfigNode, _ path: String) -> RuleOutcome? {
    guard case .mapping = node else {
      if case .null = node { return nil }
      fail(path, "expected a mapping with one of allow, redirect, deny; got \(node.kind)")
      return nil
    }
    var draft = OutcomeDraft()
    read(node, path, RuleOutcome.defaultFields, into: &draft)
    return outcome(draft, path, allowRateLimit: false)
  }

  /// The one outcome given, read; a problem when none or several were given.
  private mutating func outcome(_ draft: OutcomeDraft, _ path: String, allowRateLimit: Bool) -> RuleOutcome? {
    let expected = allowRateLimit ? "allow, redirect, deny or rate_limit" : "allow, redirect or deny"
    guard draft.given.count == 1, let given = draft.given.first else {
      if draft.given.isEmpty {
        fail(path, "missing an outcome: give exactly one of \(expected)")
      } else {
        fail(path, "give exactly one outcome, got \(draft.given.map(\.key).joined(separator: " and "))")
      }
      return nil
    }
    return given.read(&self)
  }

  /// Paths for `path_prefix` and `path_exact`: each must start with `/`, without query or spaces.
  mutating func requestPaths(_ node: ConfigNode, _ path: String) -> [String] {
    var paths: [String] = []
    for item in stringItems(node, path) {
      if !item.value.hasPrefix("/") || item.value.contains(where: { $0 == "?" || $0.isWhitespace }) {
        fail(item.path, "expected a path starting with / (without query or spaces), got \"\(item.value)\"")
      } else {
        paths.append(item.value)
      }
    }
    return paths
  }

  mutating func allow(_ node: ConfigNode, _ path: String) -> AllowOutcome {
    var allow = AllowOutcome()
    if case .null = node { return allow }
    read(node, path, AllowOutcome.fields, into: &allow)
    return allow
  }

  mutating func redirect(_ node: ConfigNode, _ path: String) -> RedirectOutcome? {
    var draft = RedirectDraft()
    read(node, path, RedirectDraft.fields, into: &draft)
    if !draft.sawLocation, !failed.contains(path) {
      fail("\(path).location", "missing; a redirect needs a location, e.g. \"https://other.example{path}\"")
    }
    guard let location = draft.location else { return nil }
    return RedirectOutcome(status: draft.status, location: location)
  }

  mutating func deny(_ node: ConfigNode, _ path: String) -> DenyOutcome {
    var deny = DenyOutcome()
    if case .null = node { return deny }
    read(node, path, DenyOutcome.fields, into: &deny)
    return deny
  }

  mutating func rateLimit(_ node: ConfigNode, _ path: String) -> RateLimitOutcome? {
    var draft = RateLimitDraft()
    read(node, path, RateLimitDraft.fields, into: &draft)
    guard let rate = draft.requestsPerSecond else {
      if draft.valid, !failed.contains(path) {
        fail("\(path).requests_per_second", "missing; a rate limit needs requests_per_second (and optionally burst)")
      }
      return nil
    }
    guard draft.valid else { return nil }
    return RateLimitOutcome(key: draft.key, requestsPerSecond: rate, burst: draft.burst, maxKeys: draft.maxKeys)
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
      var problem = ProblemType(type: "about:blank", title: ProblemDocument.reasonPhrase(status))
      read(entry.value, keyPath, ProblemType.fields, into: &problem)
      types[status] = problem
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

  /// Statuses and ranges (`404`, `"500-599"`), each within 400...599.
  mutating func statusRanges(_ node: ConfigNode, _ path: String) -> [ClosedRange<Int>] {
    var ranges: [ClosedRange<Int>] = []
    for (index, text) in stringList(node, path).enumerated() {
      let itemPath = Self.itemPath(node, path, index)
      let bounds = text.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
        .map { Int(String($0.filter { $0 != " " })) }
      guard let low = bounds.first ?? nil, let high = bounds.count == 2 ? bounds[1] : low else {
        fail(itemPath, "expected a status (404) or a range (500-599), got \"\(text)\"")
        continue
      }
      guard (400...599).contains(low), (400...599).contains(high), low <= high else {
        fail(itemPath, "statuses must be error statuses from 400 to 599, low to high; got \"\(text)\"")
        continue
      }
      ranges.append(low...high)
    }
    return ranges
  }

  /// Path prefixes, each starting with `/`.
  mutating func pathPrefixList(_ node: ConfigNode, _ path: String) -> [String] {
    var prefixes: [String] = []
    for (index, text) in stringList(node, path).enumerated() {
      guard text.hasPrefix("/") else {
        fail(Self.itemPath(node, path, index), "a path prefix starts with /, got \"\(text)\"")
        continue
      }
      prefixes.append(text)
    }
    return prefixes
  }

  /// The key path of item `index` of a value `stringList` read (a single value is its own).
  private static func itemPath(_ node: ConfigNode, _ path: String, _ index: Int) -> String {
    if case .sequence = node { return "\(path)[\(index)]" }
    return path
  }

  /// A mapping of names to exact values.
  mutating func expectedValues(_ node: ConfigNode, _ path: String) -> [ExpectedValue] {
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
