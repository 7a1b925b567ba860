// The decision on every check: pure, synchronous, no I/O (DESIGN.md, hot-path rule).

import Synchronization

/// A local answer sent instead of forwarding the request.
public struct LocalAnswer: Sendable, Hashable {
  /// The HTTP status.
  public var status: Int
  /// The response headers (names lower-case).
  public var headers: [HeaderField]
  /// The response body.
  public var body: String

  /// Creates a local answer.
  public init(status: Int, headers: [HeaderField], body: String) {
    self.status = status
    self.headers = headers
    self.body = body
  }
}

/// What a check gets.
public enum Decision: Sendable, Hashable {
  /// Forward the request with these header changes (one entry per name; each `set`, `append`
  /// onto a header the request has, or `remove`).
  case allow(headers: [HeaderField])
  /// Answer locally instead of forwarding.
  case deny(LocalAnswer)
}

/// Makes the decision for a check from the providers' current snapshots and the configuration.
public struct Decider: Sendable {
  private let registry: ProviderRegistry
  private let staticHeaders: [HeaderField]
  private let onUnavailable: UnavailablePolicy
  private let problems: ProblemDocument
  /// The compiled rules and header plans; `nil` for a configuration without policy features,
  /// which keeps the original decision (every provider, static headers, all `set`).
  private let policy: CompiledPolicy?
  /// The last merged header set and the snapshots it came from; shared by copies of this value.
  private let cache = MergeCache()
  /// Every provider's index: without policy, all of them are injected.
  private let allProviders: [Int]

  /// Creates a decider for `config` over `registry` (built from the same configuration).
  ///
  /// Rules, templates and header plans are bound here, once: a check only evaluates them. On a
  /// reload, `previous` is the decider in force: its `rate_limit` rules that are unchanged hand
  /// their token buckets over (see `CompiledPolicy.init`).
  public init(config: AugmenterConfig, registry: ProviderRegistry, previous: Decider? = nil) {
    self.registry = registry
    self.allProviders = Array(registry.states.indices)
    // The loader lower-cases names already; a configuration built in code may not have.
    self.staticHeaders = config.headers.map { HeaderField(name: $0.name.lowercased(), value: $0.value) }
    self.onUnavailable = config.onUnavailable
    self.problems = ProblemDocument(types: config.problemTypes)
    self.policy =
      config.isPolicyFree ? nil : CompiledPolicy(config: config, registry: registry, previous: previous?.policy)
    self.httpModePathPrefix = config.httpModePathPrefix.flatMap { $0.isEmpty ? nil : $0 }
    self.outcomeSources = DecisionOutcome.sources(of: config)
    self.responseHeaders = DecisionOutcome.responseHeaders(of: config)
  }

  /// The response header actions of each `DecisionOutcome.source` (rules, then `default`),
  /// for the ext_proc front's response phase: `responseHeaders[outcome.source]` after an allow.
  public let responseHeaders: [[HeaderField]]

  /// What each `DecisionOutcome.source` of this decider stands for (rules, then `default`).
  public let outcomeSources: [DecisionOutcome.Source]

  /// The limiter of each `rate_limit` rule with the rule's index in `outcomeSources`, for
  /// metrics (keys held, keys evicted).
  public var rateLimiters: [(rule: Int, limiter: RateLimiter)] {
    policy?.rateLimiters ?? []
  }

  /// The providers' states this decider reads (`/status`, `/readyz` and the refreshers follow
  /// the decider in force).
  public var providers: ProviderRegistry { registry }

  /// Whether the decision reads request headers beyond `x-request-id` (rules, templates, header
  /// actions that depend on the request); adapters that must copy headers skip it otherwise.
  public var readsRequestHeaders: Bool { policy != nil }

  /// The prefix HTTP-mode adapters strip from the path (`http_mode.path_prefix`).
  public let httpModePathPrefix: String?

  /// Decides a check at `now`. Never awaits, never does I/O.
  ///
  /// Without rules: every usable provider's headers (providers in configuration order, a later
  /// provider winning a name clash), then the static headers (which win a clash); one entry per
  /// name, at the position where the name first appeared, holding the winning value.
  ///
  /// When a required provider is unusable: with `on_unavailable: deny`, a 503
  /// `application/problem+json` answer (RFC 7807) naming the providers; with `allow`, the
  /// allow above with whatever is usable.
  ///
  /// With rules, the first matching rule decides (a rate limit under its limit lets evaluation
  /// go on), else the `default` outcome (an allow as above, with header actions and templates).
  public func decide(_ request: CheckRequestAttributes, at now: MonotonicInstant) -> Decision {
    var outcome = DecisionOutcome.error
    return decide(request, at: now, outcome: &outcome)
  }

  /// Decides a check at `now` like `decide(_:at:)`, and says in `outcome` which kind of answer it
  /// is and which rule gave it (indices as in `DecisionOutcome.sources(of:)`), for metrics.
  public func decide(_ request: CheckRequestAttributes, at now: MonotonicInstant, outcome: inout DecisionOutcome) -> Decision {
    if let policy {
      return policy.decide(request, at: now, registry: registry, problems: problems, outcome: &outcome)
    }
    // Without rules every decision is the default outcome's.
    outcome.source = 0
    let states = registry.states
    var requiredMissing = false
    // Indexed (not `for state in`): debug builds allocate in array iterators.
    for index in states.indices where states[index].config.required && !(states[index].snapshot?.isUsable(at: now) ?? false) {
      requiredMissing = true
      break
    }
    if requiredMissing && onUnavailable == .deny {
      let missing = registry.unavailableRequiredProviders(at: now)
      // Re-read: a refresher may have published in between; only deny if still missing.
      if !missing.isEmpty {
        outcome.kind = .unavailable
        return .deny(Self.unavailableAnswer(missing: missing, requestID: request.requestID, problems: problems))
      }
    }
    outcome.kind = .allow
    if let headers = cache.cached(of: allProviders, in: states, at: now) {
      return .allow(headers: headers)
    }
    return .allow(headers: cache.merge(of: allProviders, in: states, at: now, field: { _, field in field }, literal: staticHeaders))
  }

  /// The 503 problem document for unavailable required providers.
  static func unavailableAnswer(
    missing: [String], requestID: String?, problems: ProblemDocument = ProblemDocument(types: [:])
  ) -> LocalAnswer {
    problems.answer(
      status: 503, detail: "required header provider(s) unavailable: \(missing.joined(separator: ", "))",
      requestID: requestID)
  }

}

/// The last merged header set, keyed by the generation of each provider's usable snapshot
/// (0 for unusable). Snapshots change once per refresh, so almost every check returns the
/// cached array, which costs a reference copy and no allocation.
final class MergeCache: Sendable {
  final class Entry: Sendable {
    let generations: [UInt64]
    let headers: [HeaderField]
    init(generations: [UInt64], headers: [HeaderField]) {
      self.generations = generations
      self.headers = headers
    }
  }

  private let current = Mutex<Entry?>(nil)

  func entry() -> Entry? {
    current.withLock { $0 }
  }

  func store(_ entry: Entry) {
    current.withLock { $0 = entry }
  }

  /// The cached merge of `providers` (indices into `states`), if every provider's usable
  /// generation at `now` is still the one it was merged from: then a check costs a reference
  /// copy and no allocation. Otherwise `nil`, and the caller calls `merge`.
  func cached(of providers: [Int], in states: [ProviderState], at now: MonotonicInstant) -> [HeaderField]? {
    guard let cached = self.entry(), cached.generations.count == providers.count else { return nil }
    for position in providers.indices where cached.generations[position] != Self.generation(states[providers[position]], at: now) {
      return nil
    }
    return cached.headers
  }

  /// Merges, caches and returns the headers of the usable snapshots of `providers` (indices
  /// into `states`, in order; a later provider wins a name clash), then `literal` (which wins
  /// over them): one entry per name, at the position where the name first appeared. The one
  /// merge of both decision paths (with and without policy).
  /// - Parameter field: the entry for one provider header (e.g. with that provider's action).
  func merge(
    of providers: [Int], in states: [ProviderState], at now: MonotonicInstant,
    field: (ProviderState, HeaderField) -> HeaderField, literal: [HeaderField]
  ) -> [HeaderField] {
    var generations: [UInt64] = []
    generations.reserveCapacity(providers.count)
    var merged: [HeaderField] = []
    var positions: [String: Int] = [:]
    func add(_ header: HeaderField) {
      if let position = positions[header.name] {
        merged[position] = header
      } else {
        positions[header.name] = merged.count
        merged.append(header)
      }
    }
    for index in providers {
      let state = states[index]
      let generation = Self.generation(state, at: now)
      generations.append(generation)
      guard generation != 0, let snapshot = state.snapshot else { continue }
      for header in snapshot.headers { add(field(state, header)) }
    }
    for header in literal { add(header) }
    self.store(Entry(generations: generations, headers: merged))
    return merged
  }

  /// The generation of the provider's snapshot if usable at `now`, else 0.
  private static func generation(_ state: ProviderState, at now: MonotonicInstant) -> UInt64 {
    guard let snapshot = state.snapshot, snapshot.isUsable(at: now) else { return 0 }
    return snapshot.generation
  }
}
