// Header fields and the RFC 9110 rules shared by static headers (configuration) and provider
// answers (refresher): one set of rules, so a header accepted in one place is accepted in the other.

/// A header to add to the request Envoy forwards; `name` is lower-case.
public struct HeaderField: Sendable, Hashable {
  /// The field name, lower-case (validated as an RFC 9110 token wherever it comes from).
  public var name: String
  /// The field value, without CR, LF or NUL (empty for `remove`).
  public var value: String
  /// What to do with the header on the forwarded request (default `set`: replace).
  ///
  /// In a `Decision` only `set`, `append` and `remove` occur: the decider resolves
  /// `add_if_absent` (and `append` onto an absent header) against the request's headers.
  public var action: HeaderAction

  /// Creates a header field; the caller is responsible for `name` being lower-case and valid.
  public init(name: String, value: String, action: HeaderAction = .set) {
    self.name = name
    self.value = value
    self.action = action
  }
}

extension HeaderField: CustomStringConvertible {
  /// The name only: a header's value may be a credential and must never end up in a log line
  /// through string interpolation.
  public var description: String { "HeaderField(\(name))" }
}

/// The RFC 9110 checks on header names and values.
///
/// Each check returns `nil` when the input is acceptable, otherwise the rule it breaks, phrased
/// so it can follow a header name in a message. Rules never quote the offending value.
enum HeaderRules {
  /// Names that cannot be injected: connection-specific (hop-by-hop) fields, which HTTP/2 forbids
  /// and which would confuse Envoy's forwarding, plus `host` and `content-length`, which describe
  /// the request itself rather than add to it.
  static let forbiddenNames: Set<String> = [
    "host", "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te",
    "trailer", "content-length",
  ]

  /// Longest accepted name, in bytes.
  static let maxNameBytes = 256

  /// Whether `byte` is an RFC 9110 `tchar`.
  @inline(__always)
  static func isTokenByte(_ byte: UInt8) -> Bool {
    switch byte {
    case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
      UInt8(ascii: "0")...UInt8(ascii: "9"):
      return true
    case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"),
      UInt8(ascii: "&"), UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"),
      UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "^"), UInt8(ascii: "_"),
      UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
      return true
    default:
      return false
    }
  }

  /// Checks a name (any case); the caller lower-cases it once it is accepted.
  static func nameProblem(_ name: String, maxBytes: Int = maxNameBytes) -> String? {
    let utf8 = name.utf8
    if utf8.isEmpty { return "name is empty" }
    if utf8.first == UInt8(ascii: ":") { return "pseudo-header names are not allowed" }
    if utf8.count > maxBytes { return "name is longer than \(maxBytes) bytes" }
    if !utf8.allSatisfy(isTokenByte) {
      return "name has characters outside the RFC 9110 token set"
    }
    if forbiddenNames.contains(name.lowercased()) {
      return "name is reserved (host, content-length and hop-by-hop headers cannot be set)"
    }
    return nil
  }

  /// Checks a name a rule or template *reads* from the request: any token, `host` included, or
  /// a pseudo-header (`:path`), since gRPC mode's header map carries those too.
  static func lookupNameProblem(_ name: String) -> String? {
    var utf8 = Substring(name).utf8
    if utf8.first == UInt8(ascii: ":") { utf8 = utf8.dropFirst() }
    if utf8.isEmpty { return "the header name is empty" }
    if name.utf8.count > maxNameBytes { return "the header name is longer than \(maxNameBytes) bytes" }
    if !utf8.allSatisfy(isTokenByte) { return "the header name has characters outside the RFC 9110 token set" }
    return nil
  }

  /// Checks a value's bytes (already trimmed).
  static func valueProblem<Bytes: Collection<UInt8>>(_ value: Bytes, maxBytes: Int) -> String? {
    // Scan once: CR/LF and NUL get their own messages because they are the header-injection
    // cases people look for; any other control byte (except HTAB) is refused as well because
    // RFC 9110 field-content has no place for it and proxies disagree on how to treat it.
    var count = 0
    var sawControl = false
    for byte in value {
      count += 1
      switch byte {
      case UInt8(ascii: "\r"), UInt8(ascii: "\n"): return "value contains CR or LF"
      case 0: return "value contains NUL"
      case UInt8(ascii: "\t"): continue
      case 0x01..<0x20, 0x7F: sawControl = true
      default: continue
      }
    }
    if sawControl { return "value contains a control character" }
    if count > maxBytes { return "value is longer than \(maxBytes) bytes" }
    return nil
  }

  /// Trims RFC 9110 optional whitespace (SP and HTAB) from both ends of a value.
  ///
  /// Field values never carry leading or trailing whitespace on the wire (parsers strip it), so
  /// trimming keeps what we hand Envoy identical to what the upstream will see.
  static func trimmed(_ value: String) -> String {
    let utf8 = value.utf8
    guard let first = utf8.firstIndex(where: { $0 != 0x20 && $0 != 0x09 }) else { return "" }
    let last = utf8.lastIndex(where: { $0 != 0x20 && $0 != 0x09 })!
    if first == utf8.startIndex && utf8.index(after: last) == utf8.endIndex { return value }
    return String(value[first...last])
  }

  /// A header name made safe to print: names come from providers and may hold anything, so
  /// non-printable or non-ASCII bytes are escaped and long names are cut.
  static func printable(_ name: String, limit: Int = 64) -> String {
    var out = "\""
    var written = 0
    for scalar in name.unicodeScalars {
      if written == limit {
        out += "…"
        break
      }
      written += 1
      switch scalar.value {
      case 0x22: out += "\\\""
      case 0x5C: out += "\\\\"
      case 0x20..<0x7F: out.unicodeScalars.append(scalar)
      default: out += "\\u{\(String(scalar.value, radix: 16))}"
      }
    }
    return out + "\""
  }
}
