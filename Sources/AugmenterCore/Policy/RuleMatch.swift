// What a rule matches on. Every condition is compiled at load; matching allocates nothing.

/// A host pattern: `api.example.com`, `*.example.com`, `*`; case-insensitive.
///
/// `*` stands for any run of characters, dots included (`*.example.com` matches
/// `a.example.com` and `a.b.example.com`, not `example.com`). A pattern without `:` is
/// compared with the authority's host (the port is ignored); a pattern with `:` is compared
/// with the whole authority (`api.example.com:8443`).
public struct HostGlob: Sendable, Hashable, CustomStringConvertible {
  /// The pattern as written.
  public let pattern: String
  private let bytes: [UInt8]
  private let includesPort: Bool

  /// Compiles `pattern` (lower-cased).
  public init(_ pattern: String) {
    self.pattern = pattern
    self.bytes = Array(pattern.lowercased().utf8)
    self.includesPort = Authority.host(of: pattern) != Substring(pattern) || pattern.hasSuffix(":*")
  }

  /// Why `pattern` cannot be a host pattern, if it cannot.
  static func problem(_ pattern: String) -> String? {
    if pattern.isEmpty { return "must not be empty (use \"*\" for any host)" }
    let allowed = pattern.utf8.allSatisfy { byte in
      switch byte {
      case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
        UInt8(ascii: "0")...UInt8(ascii: "9"):
        return true
      default:
        return "-._~*:[]".utf8.contains(byte)
      }
    }
    return allowed ? nil : "expected a host pattern like api.example.com or *.example.com, got \"\(pattern)\""
  }

  /// Whether the request's authority matches.
  public func matches(_ authority: String) -> Bool {
    if includesPort {
      return Self.wildcardMatch(bytes, authority.utf8)
    }
    return Self.wildcardMatch(bytes, Authority.host(of: authority).utf8)
  }

  /// `*`-only wildcard match, ASCII case-insensitive, with single-star backtracking (linear in
  /// practice, quadratic at worst on a pattern with several stars).
  static func wildcardMatch<Text: Collection<UInt8>>(_ pattern: [UInt8], _ text: Text, caseInsensitive: Bool = true) -> Bool {
    var p = 0
    var t = text.startIndex
    var starP = -1
    var starT = text.startIndex
    while t != text.endIndex {
      let byte = caseInsensitive ? lower(text[t]) : text[t]
      if p < pattern.count && pattern[p] != UInt8(ascii: "*") && pattern[p] == byte {
        p += 1
        t = text.index(after: t)
      } else if p < pattern.count && pattern[p] == UInt8(ascii: "*") {
        starP = p
        starT = t
        p += 1
      } else if starP >= 0 {
        p = starP + 1
        starT = text.index(after: starT)
        t = starT
      } else {
        return false
      }
    }
    while p < pattern.count && pattern[p] == UInt8(ascii: "*") { p += 1 }
    return p == pattern.count
  }

  @inline(__always)
  private static func lower(_ byte: UInt8) -> UInt8 {
    byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte
  }

  public var description: String { pattern }
}

/// A name and the value it must equal (header or context extension).
public struct ExpectedValue: Sendable, Hashable {
  /// The header name (lower-case) or context-extension key.
  public var name: String
  /// The exact value.
  public var value: String

  /// Creates an expectation.
  public init(name: String, value: String) {
    self.name = name
    self.value = value
  }
}

/// A TLS identity pattern: `spiffe://cluster.local/ns/mesh/sa/*`, `*.gateways.example.com`,
/// `CN=envoy,O=Example`; `*` stands for any run of characters. Case-sensitive (URI SANs are).
public struct IdentityPattern: Sendable, Hashable, CustomStringConvertible {
  /// The pattern as written.
  public let pattern: String
  private let bytes: [UInt8]

  /// Compiles `pattern`.
  public init(_ pattern: String) {
    self.pattern = pattern
    self.bytes = Array(pattern.utf8)
  }

  /// Whether `identity` matches.
  public func matches(_ identity: String) -> Bool {
    HostGlob.wildcardMatch(bytes, identity.utf8, caseInsensitive: false)
  }

  public var description: String { pattern }
}

/// A rule's conditions. Every condition given must hold (AND); within one condition, any of
/// the listed values may match (OR). No condition at all matches every request.
public struct RuleMatch: Sendable, Hashable {
  /// `authority`: host patterns.
  public var authorities: [HostGlob]
  /// `path_prefix`: the path (without query) starts with one of these.
  public var pathPrefixes: [String]
  /// `path_exact`: the path (without query) equals one of these. Given together with
  /// `path_prefix`, either may match.
  public var exactPaths: [String]
  /// `method`: upper-case method names.
  public var methods: [String]
  /// `client_cidr`: the client address (see `client_address`) is in one of these ranges.
  public var clientCIDRs: [CIDR]
  /// `header_present`: every one of these request headers is present.
  public var headersPresent: [String]
  /// `header_equals`: every one of these request headers has exactly this value.
  public var headersEqual: [ExpectedValue]
  /// `context_extensions`: every one of these Envoy context extensions has exactly this value.
  public var contextExtensions: [ExpectedValue]
  /// `peer_identity`: the caller's verified TLS client identity matches one of these patterns
  /// (`*` for any run of characters, case-sensitive); a plaintext caller matches none.
  public var peerIdentities: [IdentityPattern]

  /// Creates a match; the default matches every request.
  public init(
    authorities: [HostGlob] = [],
    pathPrefixes: [String] = [],
    exactPaths: [String] = [],
    methods: [String] = [],
    clientCIDRs: [CIDR] = [],
    headersPresent: [String] = [],
    headersEqual: [ExpectedValue] = [],
    contextExtensions: [ExpectedValue] = [],
    peerIdentities: [IdentityPattern] = []
  ) {
    self.authorities = authorities
    self.pathPrefixes = pathPrefixes
    self.exactPaths = exactPaths
    self.methods = methods
    self.clientCIDRs = clientCIDRs
    self.headersPresent = headersPresent
    self.headersEqual = headersEqual
    self.contextExtensions = contextExtensions
    self.peerIdentities = peerIdentities
  }

  /// Whether there is no condition (the rule matches every request).
  public var matchesEverything: Bool {
    self == RuleMatch()
  }

  /// Whether a condition reads the client address.
  var usesClientAddress: Bool { !clientCIDRs.isEmpty }

  /// Whether `request` (with the client address the configuration selects) matches.
  public func matches(_ request: CheckRequestAttributes, clientAddress: IPAddress?) -> Bool {
    if !methods.isEmpty && !methods.contains(request.method) { return false }
    if !pathPrefixes.isEmpty || !exactPaths.isEmpty {
      let path = Self.pathWithoutQuery(request.path)
      let matched =
        exactPaths.contains { path == $0[...] }
        || pathPrefixes.contains { path.utf8.starts(with: $0.utf8) }
      if !matched { return false }
    }
    if !authorities.isEmpty && !authorities.contains(where: { $0.matches(request.authority) }) { return false }
    for name in headersPresent where !request.headers.contains(name) { return false }
    for expected in headersEqual where request.headers[expected.name] != expected.value { return false }
    for expected in contextExtensions where request.contextExtensions[expected.name] != expected.value { return false }
    if !peerIdentities.isEmpty {
      guard let identity = request.peerIdentity, peerIdentities.contains(where: { $0.matches(identity) }) else { return false }
    }
    if !clientCIDRs.isEmpty {
      guard let clientAddress, clientCIDRs.contains(where: { $0.contains(clientAddress) }) else { return false }
    }
    return true
  }

  /// The path up to `?` (Envoy sends the query as part of the path).
  static func pathWithoutQuery(_ path: String) -> Substring {
    if let question = path.utf8.firstIndex(of: UInt8(ascii: "?")) {
      return path[..<question]
    }
    return path[...]
  }
}
