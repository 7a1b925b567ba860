// What decided a check, as a small value the adapters count: which outcome, and which rule.

/// The kind and the source of one check's decision, for metrics.
///
/// A plain value of two integers: the decider fills it in as it decides, so counting a check
/// builds no label and allocates nothing. What each `source` index means (its rule and profile
/// names) is listed once per configuration by `DecisionOutcome.sources(of:)`.
public struct DecisionOutcome: Sendable, Hashable {
  /// What the check got.
  public enum Kind: Int, Sendable, Hashable, CaseIterable {
    /// Forwarded, with headers.
    case allow
    /// A policy `deny` (4xx).
    case deny
    /// A policy `redirect`.
    case redirect
    /// Over a rule's rate limit (429).
    case rateLimited
    /// A needed provider had no usable headers and `on_unavailable: deny` applied (503).
    case unavailable
    /// The check could not be decided (an undecodable request, an answer that failed to encode).
    case error
  }

  /// What the check got.
  public var kind: Kind
  /// The rule that decided: its index in `rules`, `rules.count` for the `default` outcome (and
  /// for a configuration without rules), or `DecisionOutcome.noSource` when nothing decided.
  public var source: Int

  /// The `source` of a check no rule decided (an error before deciding).
  public static let noSource = -1

  /// Creates an outcome.
  public init(kind: Kind, source: Int) {
    self.kind = kind
    self.source = source
  }

  /// An error before any rule was consulted.
  public static let error = DecisionOutcome(kind: .error, source: noSource)

  /// What one `source` index stands for: its rule and profile names and the kinds it can give.
  public struct Source: Sendable, Hashable {
    /// The rule's name; its index (`"0"`, `"1"`…) for an unnamed rule; `"default"` for the
    /// `default` outcome.
    public var rule: String
    /// The profile of an `allow` outcome that names one, else `""`.
    public var profile: String
    /// The kinds this source can decide (an allow can also turn into `unavailable`).
    public var kinds: [Kind]

    /// Creates a source.
    public init(rule: String, profile: String, kinds: [Kind]) {
      self.rule = rule
      self.profile = profile
      self.kinds = kinds
    }
  }

  /// The sources of `config`'s decisions, indexed as `DecisionOutcome.source`: one per rule, then
  /// the `default` outcome. Bounded by the configuration, so metrics can make one series each.
  public static func sources(of config: AugmenterConfig) -> [Source] {
    func source(_ rule: String, _ outcome: RuleOutcome) -> Source {
      switch outcome {
      case .allow(let allow): Source(rule: rule, profile: allow.profile ?? "", kinds: [.allow, .unavailable])
      case .deny: Source(rule: rule, profile: "", kinds: [.deny])
      case .redirect: Source(rule: rule, profile: "", kinds: [.redirect])
      case .rateLimit: Source(rule: rule, profile: "", kinds: [.rateLimited])
      }
    }
    return config.rules.indices.map { source(config.rules[$0].name ?? String($0), config.rules[$0].outcome) }
      + [source("default", config.defaultOutcome ?? .allow(AllowOutcome()))]
  }

  /// The `response_headers` of each source of `config` (indexed like `sources(of:)`): one
  /// entry per name (the last one written wins), empty for a source that is not an allow.
  static func responseHeaders(of config: AugmenterConfig) -> [[HeaderField]] {
    func fields(_ outcome: RuleOutcome) -> [HeaderField] {
      guard case .allow(let allow) = outcome else { return [] }
      var out: [HeaderField] = []
      for rule in allow.responseHeaders {
        let value: String
        switch rule.value {
        case .literal(let text): value = HeaderRules.trimmed(text)
        case .template(let template): value = HeaderRules.trimmed(template.literalText ?? "")
        case .none: value = ""
        }
        let field = HeaderField(name: rule.name.lowercased(), value: value, action: rule.action)
        if let position = out.firstIndex(where: { $0.name == field.name }) {
          out[position] = field
        } else {
          out.append(field)
        }
      }
      return out
    }
    return config.rules.map { fields($0.outcome) } + [fields(config.defaultOutcome ?? .allow(AllowOutcome()))]
  }
}
