// Templates: header values, redirect locations and rate-limit keys built from the request.
//
// Syntax: literal text with `{variable}` placeholders; `{{` and `}}` stand for literal braces.
//
//   {method} {path} {authority} {host} {scheme} {request_id} {client_address} {destination}
//   {peer_identity}
//   {header:NAME}  {context:KEY}  {provider:PROVIDER:HEADER}
//
// A template is parsed once, at configuration load, into segments; rendering appends the
// segments' text to one string. Values taken from the request are sanitized as they are
// appended (control characters dropped), so whatever a client sends, the result is a valid
// header value.

/// Why a template could not be parsed.
public struct TemplateError: Error, Sendable, Hashable, CustomStringConvertible {
  /// What is wrong, naming the position (counted in characters from 1).
  public var message: String

  /// Creates an error.
  public init(_ message: String) {
    self.message = message
  }

  public var description: String { message }
}

/// A compiled template.
public struct Template: Sendable, Hashable, CustomStringConvertible {
  /// A value a placeholder stands for.
  public enum Variable: Sendable, Hashable {
    /// `{method}`: the request method.
    case method
    /// `{path}`: the request path with its query, as Envoy sent it.
    case path
    /// `{authority}`: the `:authority` / `Host`, port included when the client sent one.
    case authority
    /// `{host}`: the authority without its port.
    case host
    /// `{scheme}`: `http` or `https`.
    case scheme
    /// `{request_id}`: Envoy's `x-request-id`.
    case requestID
    /// `{client_address}`: the client address (see `client_address` in the configuration).
    case clientAddress
    /// `{destination}`: the local address the request arrived on (gRPC mode).
    case destination
    /// `{peer_identity}`: the verified TLS client certificate identity of the caller's
    /// connection (URI SAN, else DNS SAN, else subject).
    case peerIdentity
    /// `{header:NAME}`: a request header (several values joined with `,`).
    case header(String)
    /// `{context:KEY}`: an Envoy `context_extensions` entry (gRPC mode).
    case context(String)
    /// `{provider:PROVIDER:HEADER}`: a header from a provider's current answer.
    case provider(name: String, header: String)
  }

  enum Segment: Sendable, Hashable {
    case literal(String)
    case variable(Variable)
  }

  /// The text as written in the configuration.
  public let source: String
  let segments: [Segment]

  /// The longest value a template renders, in bytes; longer results are cut (at a character
  /// boundary). The same bound as for provider and static header values.
  public static let maxRenderedBytes = ProviderAnswerLimits.default.maxValueBytes

  /// The placeholders, for "unknown variable" messages and the README.
  public static let variableNames = [
    "method", "path", "authority", "host", "scheme", "request_id", "client_address", "destination",
    "peer_identity", "header:NAME", "context:KEY", "provider:PROVIDER:HEADER",
  ]

  /// Parses `text`.
  public init(_ text: String) throws(TemplateError) {
    self.source = text
    self.segments = try Self.parse(text)
  }

  public var description: String { source }

  /// Whether the template has no placeholder (renders the same for every request).
  public var isLiteral: Bool {
    segments.allSatisfy { if case .literal = $0 { true } else { false } }
  }

  /// The literal text of a template without placeholders.
  var literalText: String? {
    guard isLiteral else { return nil }
    return segments.map { if case .literal(let text) = $0 { text } else { "" } }.joined()
  }

  /// Every placeholder, in order.
  public var variables: [Variable] {
    segments.compactMap { if case .variable(let variable) = $0 { variable } else { nil } }
  }

  /// The literal parts, for validation (they must be valid header-value text themselves).
  var literalParts: [String] {
    segments.compactMap { if case .literal(let text) = $0 { text } else { nil } }
  }

  /// The providers the template reads (`{provider:NAME:HEADER}`), in order, without repeats.
  public var providerNames: [String] {
    var names: [String] = []
    for case .provider(let name, _) in variables where !names.contains(name) {
      names.append(name)
    }
    return names
  }

  // MARK: - Parsing

  private static func parse(_ text: String) throws(TemplateError) -> [Segment] {
    var segments: [Segment] = []
    var literal = ""
    let characters = Array(text)
    var index = 0
    while index < characters.count {
      let character = characters[index]
      if character == "{" {
        if index + 1 < characters.count && characters[index + 1] == "{" {
          literal.append("{")
          index += 2
          continue
        }
        guard let close = characters[(index + 1)...].firstIndex(of: "}") else {
          throw TemplateError("unclosed \"{\" at character \(index + 1); write \"{{\" for a literal brace")
        }
        let name = String(characters[(index + 1)..<close])
        if name.contains("{") {
          throw TemplateError("unclosed \"{\" at character \(index + 1); write \"{{\" for a literal brace")
        }
        let variable = try Self.variable(name, at: index + 1)
        if !literal.isEmpty {
          segments.append(.literal(literal))
          literal = ""
        }
        segments.append(.variable(variable))
        index = close + 1
      } else if character == "}" {
        if index + 1 < characters.count && characters[index + 1] == "}" {
          literal.append("}")
          index += 2
          continue
        }
        throw TemplateError("a single \"}\" at character \(index + 1); write \"}}\" for a literal brace")
      } else {
        literal.append(character)
        index += 1
      }
    }
    if !literal.isEmpty { segments.append(.literal(literal)) }
    return segments
  }

  private static func variable(_ name: String, at position: Int) throws(TemplateError) -> Variable {
    let known = "known: " + variableNames.map { "{\($0)}" }.joined(separator: ", ")
    if name.isEmpty { throw TemplateError("empty placeholder \"{}\" at character \(position) (\(known))") }
    switch name {
    case "method": return .method
    case "path": return .path
    case "authority": return .authority
    case "host": return .host
    case "scheme": return .scheme
    case "request_id": return .requestID
    case "client_address": return .clientAddress
    case "destination": return .destination
    case "peer_identity": return .peerIdentity
    default: break
    }
    if name.hasPrefix("header:") {
      let header = String(name.dropFirst("header:".count))
      if let problem = HeaderRules.lookupNameProblem(header) {
        throw TemplateError("expected {header:NAME} at character \(position), got {\(name)}: \(problem)")
      }
      return .header(header.lowercased())
    }
    let parts = name.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
    switch parts[0] {
    case "context":
      guard parts.count == 2, !parts[1].isEmpty else {
        throw TemplateError("expected {context:KEY} at character \(position), got {\(name)}")
      }
      return .context(parts[1])
    case "provider":
      guard parts.count == 3, !parts[1].isEmpty, !parts[2].isEmpty else {
        throw TemplateError("expected {provider:PROVIDER:HEADER} at character \(position), got {\(name)}")
      }
      return .provider(name: parts[1], header: parts[2].lowercased())
    default:
      throw TemplateError("unknown placeholder {\(name)} at character \(position) (\(known))")
    }
  }

  // MARK: - Rendering

  /// Renders the template for `request`.
  ///
  /// Every value taken from the request or a provider is sanitized: control characters
  /// (U+0000-U+001F, including CR, LF, NUL and TAB, and U+007F) are dropped. The result is
  /// trimmed of surrounding spaces and cut to `maxRenderedBytes`, so it is always a valid header
  /// value. A missing value (absent header, no client address) renders as nothing.
  ///
  /// - Parameters:
  ///   - clientAddress: the client address the configuration selects, if known.
  ///   - provider: the current value of a provider's header (provider name, header name).
  public func render(
    _ request: CheckRequestAttributes,
    clientAddress: String?,
    provider: (String, String) -> String?
  ) -> String {
    var out = ""
    for segment in segments {
      switch segment {
      case .literal(let text):
        out += text
      case .variable(let variable):
        let value: String?
        switch variable {
        case .method: value = request.method
        case .path: value = request.path
        case .authority: value = request.authority
        case .host: value = String(Authority.host(of: request.authority))
        case .scheme: value = request.scheme
        case .requestID: value = request.requestID
        case .clientAddress: value = clientAddress
        case .destination: value = request.destinationAddress
        case .peerIdentity: value = request.peerIdentity
        case .header(let name): value = request.headers[name]
        case .context(let key): value = request.contextExtensions[key]
        case .provider(let name, let header): value = provider(name, header)
        }
        if let value { Self.appendSanitized(value, to: &out) }
      }
      if out.utf8.count > Self.maxRenderedBytes { break }
    }
    return Self.finish(out)
  }

  /// Appends `value` without its control characters.
  static func appendSanitized(_ value: String, to out: inout String) {
    // The common case, a clean value, is appended in one go.
    if !value.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) {
      out += value
      return
    }
    for scalar in value.unicodeScalars where scalar.value >= 0x20 && scalar.value != 0x7F {
      out.unicodeScalars.append(scalar)
    }
  }

  /// Trims spaces at both ends and cuts to `maxRenderedBytes` on a character boundary.
  static func finish(_ value: String) -> String {
    var text = HeaderRules.trimmed(value)
    if text.utf8.count > maxRenderedBytes {
      var cut = ""
      var bytes = 0
      for scalar in text.unicodeScalars {
        let size = String(scalar).utf8.count
        if bytes + size > maxRenderedBytes { break }
        bytes += size
        cut.unicodeScalars.append(scalar)
      }
      text = HeaderRules.trimmed(cut)
    }
    return text
  }
}

/// Splitting an authority (`host[:port]`, `[v6]:port`) into its parts.
enum Authority {
  /// The host part: without `:port`; an IPv6 literal keeps its brackets.
  static func host(of authority: String) -> Substring {
    let utf8 = authority.utf8
    if utf8.first == UInt8(ascii: "[") {
      if let close = utf8.firstIndex(of: UInt8(ascii: "]")) {
        return authority[...close]
      }
      return authority[...]
    }
    if let colon = utf8.lastIndex(of: UInt8(ascii: ":")),
      utf8[utf8.index(after: colon)...].allSatisfy({ $0 >= 0x30 && $0 <= 0x39 })
    {
      // A second colon means an unbracketed IPv6 address, which has no port.
      if utf8[..<colon].contains(UInt8(ascii: ":")) { return authority[...] }
      return authority[..<colon]
    }
    return authority[...]
  }
}
