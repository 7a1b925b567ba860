// The policy bound to one configuration and its providers: built once when the decider is
// created, then only read. Evaluating it allocates only what the answer needs.

/// A header of a plan: its name, action and value source (one entry per name).
struct PlannedHeader: Sendable {
  var name: String
  var action: HeaderAction
  var value: HeaderRule.Value
}

/// Everything an `allow` needs, bound to provider indices.
final class AllowPlan: Sendable {
  /// Providers whose headers are injected, in configuration order.
  let providers: [Int]
  /// Providers that must be usable (else `onUnavailable`).
  let needed: [Int]
  let onUnavailable: UnavailablePolicy
  /// Literal headers (one per name), applied over the providers' headers.
  let literal: [PlannedHeader]
  /// Templated headers (one per name), rendered per check, applied last.
  let templated: [PlannedHeader]
  /// Whether any header may need the request's headers to resolve its action.
  let resolvesActions: Bool
  /// The providers' headers merged with the literal ones, by snapshot generations.
  let cache = MergeCache()

  init(providers: [Int], needed: [Int], onUnavailable: UnavailablePolicy, headers: [PlannedHeader], registry: ProviderRegistry) {
    self.providers = providers
    self.needed = needed
    self.onUnavailable = onUnavailable
    self.literal = headers.filter { if case .template = $0.value { false } else { true } }
    self.templated = headers.filter { if case .template = $0.value { true } else { false } }
    let conditional: (HeaderAction) -> Bool = { $0 == .append || $0 == .addIfAbsent }
    self.resolvesActions =
      headers.contains { conditional($0.action) }
      || providers.contains { index in registry.states[index].config.headerActions.values.contains(where: conditional) }
  }
}

/// What a matching rule (or the default) does, bound.
enum PlannedOutcome: Sendable {
  case allow(AllowPlan)
  case redirect(status: Int, location: Template)
  case deny(status: Int, detail: Template?, headers: [PlannedHeader])
  case rateLimit(RateLimiter, key: Template)
}

/// The bound policy.
final class CompiledPolicy: Sendable {
  struct Rule: Sendable {
    let match: RuleMatch
    let outcome: PlannedOutcome
    /// The rule as configured: a reload keeps the token buckets of a rate limit whose rule is
    /// equal to one of the previous configuration's.
    let source: PolicyRule
  }

  let clientAddress: ClientAddressSource
  /// Whether a rule matches on the client address (else it is not parsed).
  let matchesClientAddress: Bool
  /// Whether a template renders the client address (else its text is not copied).
  let rendersClientAddress: Bool
  let rules: [Rule]
  let fallback: PlannedOutcome

  /// Binds `config` to `registry`. A `rate_limit` rule equal to one of `previous`' (same name,
  /// match and limit) takes over its limiter, buckets and all, so a reload does not hand every
  /// client a fresh burst; a new or changed rule starts with full buckets.
  init(config: AugmenterConfig, registry: ProviderRegistry, previous: CompiledPolicy? = nil) {
    let profiles = Dictionary(config.profiles.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
    // The top-level headers apply on every allow: the plain ones, then those with actions.
    let topLevel =
      config.headers.map { PlannedHeader(name: $0.name.lowercased(), action: $0.action, value: .literal($0.value)) }
      + config.headerRules.map(Self.planned)

    func plan(_ allow: AllowOutcome) -> AllowPlan {
      let profile = allow.profile.flatMap { profiles[$0] }
      let names = allow.providers ?? profile?.providers
      let all = Array(registry.states.indices)
      let indices = names.map { names in all.filter { names.contains(registry.states[$0].config.name) } } ?? all
      var needed = names == nil ? all.filter { registry.states[$0].config.required } : indices
      let headers = Self.fold(topLevel + (profile?.headers ?? []).map(Self.planned) + allow.headers.map(Self.planned))
      // A provider a template reads is needed too.
      for header in headers {
        guard case .template(let template) = header.value else { continue }
        for name in template.providerNames {
          if let index = all.first(where: { registry.states[$0].config.name == name }), !needed.contains(index) {
            needed.append(index)
          }
        }
      }
      return AllowPlan(
        providers: indices, needed: needed.sorted(),
        onUnavailable: allow.onUnavailable ?? profile?.onUnavailable ?? config.onUnavailable,
        headers: headers, registry: registry)
    }

    func bind(_ outcome: RuleOutcome) -> PlannedOutcome {
      switch outcome {
      case .allow(let allow):
        return .allow(plan(allow))
      case .redirect(let redirect):
        return .redirect(status: redirect.status, location: redirect.location)
      case .deny(let deny):
        return .deny(status: deny.status, detail: deny.detail, headers: Self.fold(deny.headers.map(Self.planned)))
      case .rateLimit(let limit):
        let limiter = RateLimiter(requestsPerSecond: limit.requestsPerSecond, burst: limit.burst, maxKeys: limit.maxKeys)
        return .rateLimit(limiter, key: limit.key)
      }
    }

    self.clientAddress = config.clientAddress
    // Each previous limiter is taken over at most once (two equal rules keep one each, in order).
    var reusable =
      previous?.rules.compactMap { rule -> (PolicyRule, PlannedOutcome)? in
        if case .rateLimit = rule.outcome { (rule.source, rule.outcome) } else { nil }
      } ?? []
    self.rules = config.rules.map { rule in
      if case .rateLimit = rule.outcome, let index = reusable.firstIndex(where: { $0.0 == rule }) {
        return Rule(match: rule.match, outcome: reusable.remove(at: index).1, source: rule)
      }
      return Rule(match: rule.match, outcome: bind(rule.outcome), source: rule)
    }
    self.fallback = bind(config.defaultOutcome ?? .allow(AllowOutcome()))

    var templates: [Template] = []
    func collect(_ headers: [PlannedHeader]) {
      for case .template(let template) in headers.map(\.value) { templates.append(template) }
    }
    for outcome in rules.map(\.outcome) + [fallback] {
      switch outcome {
      case .allow(let plan): collect(plan.templated)
      case .redirect(_, let location): templates.append(location)
      case .deny(_, let detail, let headers):
        collect(headers)
        if let detail { templates.append(detail) }
      case .rateLimit(_, let key): templates.append(key)
      }
    }
    self.matchesClientAddress = rules.contains { $0.match.usesClientAddress }
    self.rendersClientAddress = templates.contains { $0.variables.contains(.clientAddress) }
  }

  /// The limiter of each `rate_limit` rule, with the rule's index (the fallback is never one).
  var rateLimiters: [(rule: Int, limiter: RateLimiter)] {
    rules.indices.compactMap { index in
      if case .rateLimit(let limiter, _) = rules[index].outcome { (index, limiter) } else { nil }
    }
  }

  private static func planned(_ rule: HeaderRule) -> PlannedHeader {
    var value = rule.value
    if case .literal(let text) = value { value = .literal(HeaderRules.trimmed(text)) }
    if case .template(let template) = value, let text = template.literalText {
      value = .literal(HeaderRules.trimmed(text))
    }
    return PlannedHeader(name: rule.name.lowercased(), action: rule.action, value: value)
  }

  /// One entry per name: a later entry replaces an earlier one, keeping its position.
  private static func fold(_ headers: [PlannedHeader]) -> [PlannedHeader] {
    var out: [PlannedHeader] = []
    var positions: [String: Int] = [:]
    for header in headers {
      if let position = positions[header.name] {
        out[position] = header
      } else {
        positions[header.name] = out.count
        out.append(header)
      }
    }
    return out
  }

  // MARK: - Deciding

  func decide(
    _ request: CheckRequestAttributes, at now: MonotonicInstant, registry: ProviderRegistry, problems: ProblemDocument,
    outcome: inout DecisionOutcome
  ) -> Decision {
    let clientText =
      matchesClientAddress || rendersClientAddress ? clientAddress.address(of: request) : nil
    let clientIP = matchesClientAddress ? clientText.flatMap { IPAddress.parseLenient($0) } : nil
    let client = rendersClientAddress ? clientText.map(String.init) : nil
    // A local function, not a closure value: passed on as a non-escaping argument, it costs no
    // allocation.
    func provider(_ name: String, _ header: String) -> String? {
      registry.state(named: name)?.usableHeaders(at: now)?.first { $0.name == header }?.value
    }
    // Indexed, so the deciding rule's index is at hand for `outcome` (and debug builds allocate
    // in array iterators).
    for index in rules.indices where rules[index].match.matches(request, clientAddress: clientIP) {
      if let decision = apply(rules[index].outcome, request, client, now, registry, problems, provider, &outcome.kind) {
        outcome.source = index
        return decision
      }
    }
    outcome.source = rules.count
    return apply(fallback, request, client, now, registry, problems, provider, &outcome.kind)
      ?? .allow(headers: [])  // unreachable: the fallback is never a rate limit
  }

  /// The decision of `outcome`; `nil` for a rate limit that lets the request through. `kind`
  /// gets the kind of a decision returned.
  private func apply(
    _ outcome: PlannedOutcome, _ request: CheckRequestAttributes, _ client: String?, _ now: MonotonicInstant,
    _ registry: ProviderRegistry, _ problems: ProblemDocument, _ provider: (String, String) -> String?,
    _ kind: inout DecisionOutcome.Kind
  ) -> Decision? {
    switch outcome {
    case .allow(let plan):
      return allow(plan, request, client, now, registry, problems, provider, &kind)
    case .redirect(let status, let location):
      kind = .redirect
      let target = location.render(request, clientAddress: client, provider: provider)
      return .deny(LocalAnswer(status: status, headers: [HeaderField(name: "location", value: target)], body: ""))
    case .deny(let status, let detail, let headers):
      kind = .deny
      let text = detail?.render(request, clientAddress: client, provider: provider) ?? "The request was denied by policy."
      let rendered = headers.map { header -> HeaderField in
        HeaderField(name: header.name, value: Self.value(header, request, client, provider))
      }
      return .deny(problems.answer(status: status, detail: text, requestID: request.requestID, headers: rendered))
    case .rateLimit(let limiter, let key):
      let bucket = key.isLiteral ? key.source : key.render(request, clientAddress: client, provider: provider)
      switch limiter.take(bucket, at: now) {
      case .allowed:
        return nil
      case .limited(let retryAfter, let reset):
        kind = .rateLimited
        let retrySeconds = Self.wholeSeconds(retryAfter)
        let headers = [
          HeaderField(name: "retry-after", value: String(retrySeconds)),
          HeaderField(name: "ratelimit-limit", value: String(limiter.burst)),
          HeaderField(name: "ratelimit-remaining", value: "0"),
          HeaderField(name: "ratelimit-reset", value: String(Self.wholeSeconds(reset))),
        ]
        let rate =
          limiter.requestsPerSecond.rounded() == limiter.requestsPerSecond
          ? String(Int(limiter.requestsPerSecond)) : String(limiter.requestsPerSecond)
        let detail = "Rate limit of \(rate) requests per second (burst \(limiter.burst)) exceeded; retry after \(retrySeconds)s."
        return .deny(problems.answer(status: 429, detail: detail, requestID: request.requestID, headers: headers))
      }
    }
  }

  /// Seconds rounded up, at least 1 (Retry-After and RateLimit-Reset are whole seconds).
  private static func wholeSeconds(_ duration: Duration) -> Int {
    let nanoseconds = duration.clampedNanoseconds
    return max(1, Int((nanoseconds + 999_999_999) / 1_000_000_000))
  }

  private static func value(
    _ header: PlannedHeader, _ request: CheckRequestAttributes, _ client: String?, _ provider: (String, String) -> String?
  ) -> String {
    switch header.value {
    case .literal(let text): text
    case .template(let template): template.render(request, clientAddress: client, provider: provider)
    case .none: ""
    }
  }

  private func allow(
    _ plan: AllowPlan, _ request: CheckRequestAttributes, _ client: String?, _ now: MonotonicInstant,
    _ registry: ProviderRegistry, _ problems: ProblemDocument, _ provider: (String, String) -> String?,
    _ kind: inout DecisionOutcome.Kind
  ) -> Decision {
    let states = registry.states
    var missing: [String] = []
    for index in plan.needed where !(states[index].snapshot?.isUsable(at: now) ?? false) {
      missing.append(states[index].config.name)
    }
    if !missing.isEmpty && plan.onUnavailable == .deny {
      kind = .unavailable
      return .deny(Decider.unavailableAnswer(missing: missing, requestID: request.requestID, problems: problems))
    }

    kind = .allow
    var headers: [HeaderField]
    if let cached = plan.cache.cached(of: plan.providers, in: states, at: now) {
      headers = cached
    } else {
      headers = plan.cache.merge(
        of: plan.providers, in: states, at: now,
        field: { state, field in HeaderField(name: field.name, value: field.value, action: state.config.action(for: field.name)) },
        literal: plan.literal.map { HeaderField(name: $0.name, value: Self.value($0, request, client, provider), action: $0.action) }
      )
    }

    for header in plan.templated {
      let field = HeaderField(name: header.name, value: Self.value(header, request, client, provider), action: header.action)
      if let position = headers.firstIndex(where: { $0.name == header.name }) {
        headers[position] = field
      } else {
        headers.append(field)
      }
    }
    if plan.resolvesActions {
      Self.resolve(&headers, against: request.headers)
    }
    return .allow(headers: headers)
  }

  /// Decides `add_if_absent` and `append` against the request: what Envoy cannot do with
  /// `ok_response` headers (it ignores `append_action`, and its `append: true` does nothing to
  /// an absent header).
  static func resolve(_ headers: inout [HeaderField], against request: RequestHeaders) {
    var index = 0
    while index < headers.count {
      switch headers[index].action {
      case .addIfAbsent:
        if request.contains(headers[index].name) {
          headers.remove(at: index)
          continue
        }
        headers[index].action = .set
      case .append:
        if !request.contains(headers[index].name) { headers[index].action = .set }
      case .set, .remove:
        break
      }
      index += 1
    }
  }
}
