// The policy part of the configuration: client address, profiles, rules, default outcome,
// problem types. Plain values (templates and matchers already compiled), validated by the
// loader; the decider binds them to providers and rate-limit tables once, at start.

/// Where the client address for `client_cidr` and `{client_address}` comes from
/// (key `client_address`).
public enum ClientAddressSource: Sendable, Hashable {
  /// The downstream peer Envoy reports (gRPC `attributes.source`); HTTP mode has none.
  case peer
  /// A request header: `x-real-ip` (one address) or `x-forwarded-for` (a list, of which the
  /// address `trustedHops` from the right is taken; the leftmost when the list is shorter).
  case header(name: String, trustedHops: Int)

  /// The client address of `request`, as text, or `nil` when unknown.
  public func address(of request: CheckRequestAttributes) -> Substring? {
    switch self {
    case .peer:
      guard let source = request.sourceAddress, !source.isEmpty else { return nil }
      return source[...]
    case .header(let name, let trustedHops):
      guard let value = request.headers[name] else { return nil }
      return Self.entry(value, trustedHops: trustedHops)
    }
  }

  /// The entry `trustedHops` from the right of a comma-separated list, trimmed.
  static func entry(_ list: String, trustedHops: Int) -> Substring? {
    var end = list.endIndex
    var remaining = max(trustedHops, 1)
    while true {
      let start = list[..<end].lastIndex(of: ",").map { list.index(after: $0) } ?? list.startIndex
      remaining -= 1
      if remaining == 0 || start == list.startIndex {
        var entry = list[start..<end]
        while let first = entry.first, first == " " || first == "\t" { entry = entry.dropFirst() }
        while let last = entry.last, last == " " || last == "\t" { entry = entry.dropLast() }
        return entry.isEmpty ? nil : entry
      }
      end = list.index(before: start)
    }
  }
}

/// A named set of providers and headers a rule can select (key `profiles`).
public struct ProfileConfig: Sendable, Hashable {
  /// The profile's name (`[a-z0-9_-]+`).
  public var name: String
  /// The providers whose headers this profile injects (and needs); `nil`: every provider.
  public var providers: [String]?
  /// Headers added on top of the top-level `headers`.
  public var headers: [HeaderRule]
  /// Overrides the top-level `on_unavailable`.
  public var onUnavailable: UnavailablePolicy?

  /// Creates a profile.
  public init(name: String, providers: [String]? = nil, headers: [HeaderRule] = [], onUnavailable: UnavailablePolicy? = nil) {
    self.name = name
    self.providers = providers
    self.headers = headers
    self.onUnavailable = onUnavailable
  }
}

/// How a request passes (outcome `allow`).
public struct AllowOutcome: Sendable, Hashable {
  /// A profile whose providers, headers and `on_unavailable` apply first.
  public var profile: String?
  /// The providers whose headers are injected and which must be usable; `nil`: the profile's,
  /// else every provider (of which only the `required` ones must be usable).
  public var providers: [String]?
  /// Headers added after the top-level and the profile's (a later entry for a name wins).
  public var headers: [HeaderRule]
  /// What happens when a needed provider is unusable; `nil`: the profile's, else the top level's.
  public var onUnavailable: UnavailablePolicy?
  /// Header actions on the upstream's response (literal values; a later entry for a name
  /// wins). Only the ext_proc front sees responses.
  public var responseHeaders: [HeaderRule]

  /// Creates an allow outcome; the default is the behaviour without rules.
  public init(
    profile: String? = nil, providers: [String]? = nil, headers: [HeaderRule] = [], onUnavailable: UnavailablePolicy? = nil,
    responseHeaders: [HeaderRule] = []
  ) {
    self.profile = profile
    self.providers = providers
    self.headers = headers
    self.onUnavailable = onUnavailable
    self.responseHeaders = responseHeaders
  }
}

/// A redirect answered by Envoy on Augmenter's behalf (outcome `redirect`).
public struct RedirectOutcome: Sendable, Hashable {
  /// 301, 302, 303, 307 or 308.
  public var status: Int
  /// The `Location`, e.g. `https://other.example{path}`.
  public var location: Template

  /// Creates a redirect.
  public init(status: Int = 302, location: Template) {
    self.status = status
    self.location = location
  }
}

/// A local refusal with a problem+json body (outcome `deny`).
public struct DenyOutcome: Sendable, Hashable {
  /// A 4xx status (403 by default). Never 5xx: HTTP-mode Envoy reads a 5xx as an error.
  public var status: Int
  /// The problem document's `detail`; `nil`: "The request was denied by policy."
  public var detail: Template?
  /// Extra response headers (set).
  public var headers: [HeaderRule]

  /// Creates a deny outcome.
  public init(status: Int = 403, detail: Template? = nil, headers: [HeaderRule] = []) {
    self.status = status
    self.detail = detail
    self.headers = headers
  }
}

/// A token bucket per key (outcome `rate_limit`). Under the limit the request goes on to the
/// following rules; over it, 429.
public struct RateLimitOutcome: Sendable, Hashable {
  /// The bucket key, e.g. `{client_address}` or `{authority}`; a literal key (the default, "")
  /// gives the rule one bucket.
  public var key: Template
  /// Tokens added per second (may be fractional: 0.5 is one request every 2 seconds).
  public var requestsPerSecond: Double
  /// The bucket's capacity: how many requests may come at once.
  public var burst: Int
  /// The most keys tracked at once (memory bound); idle keys are forgotten first.
  public var maxKeys: Int

  /// The default `max_keys`.
  public static let defaultMaxKeys = 10_000
  /// The largest `max_keys`.
  public static let maxMaxKeys = 1_048_576

  /// Creates a rate limit; `burst` defaults to the rate rounded up.
  public init(key: Template, requestsPerSecond: Double, burst: Int? = nil, maxKeys: Int = RateLimitOutcome.defaultMaxKeys) {
    self.key = key
    self.requestsPerSecond = requestsPerSecond
    self.burst = burst ?? max(1, Int(requestsPerSecond.rounded(.up)))
    self.maxKeys = maxKeys
  }
}

/// What a rule does.
public enum RuleOutcome: Sendable, Hashable {
  /// Forward the request with headers.
  case allow(AllowOutcome)
  /// Answer a redirect.
  case redirect(RedirectOutcome)
  /// Answer a 4xx problem document.
  case deny(DenyOutcome)
  /// Count the request; 429 over the limit, else go on to the next rule.
  case rateLimit(RateLimitOutcome)

  /// The configuration key of the outcome.
  public var key: String {
    switch self {
    case .allow: "allow"
    case .redirect: "redirect"
    case .deny: "deny"
    case .rateLimit: "rate_limit"
    }
  }
}

/// One entry of `rules`.
public struct PolicyRule: Sendable, Hashable {
  /// An optional name (`[a-z0-9_-]+`), for logs.
  public var name: String?
  /// The conditions.
  public var match: RuleMatch
  /// What happens when they hold.
  public var outcome: RuleOutcome

  /// Creates a rule.
  public init(name: String? = nil, match: RuleMatch = RuleMatch(), outcome: RuleOutcome) {
    self.name = name
    self.match = match
    self.outcome = outcome
  }
}

/// The `type` URI and `title` of the problem documents with one status (key `problem_types`).
public struct ProblemType: Sendable, Hashable {
  /// The `type` URI (`about:blank` by default).
  public var type: String
  /// The `title` (the status's reason phrase by default).
  public var title: String

  /// Creates a problem type.
  public init(type: String, title: String) {
    self.type = type
    self.title = title
  }
}
