//===----------------------------------------------------------------------===//
// Augmenter fuzzing — templates, rule matching and the address ranges rules match on.
//===----------------------------------------------------------------------===//

import FuzzSupport

@testable import AugmenterCore

// Input: NUL-separated fields: template, method, path, authority, header value, context value,
// provider value, client address, host pattern, address range, address; missing fields are empty.
//
// Invariants:
// - `Template(text)` never crashes; a refusal has a message; an accepted template keeps its source;
// - a template whose literal parts the configuration would accept (no CR, LF, NUL or control)
//   renders, whatever the request, provider and client values hold, a valid header value: no CR,
//   LF, NUL or other control, no surrounding SP/HTAB, at most `maxRenderedBytes` bytes;
// - any text with its braces doubled is a literal template whose text is that text;
// - `*` matching (host and identity patterns) agrees with a reference matcher;
// - a rule's conditions combine with AND: the whole rule matches exactly when each single
//   condition does; a rule without conditions matches everything;
// - an address prints to text that parses back to it; a range contains its network, and contains
//   an address exactly when their first prefixLength bits agree.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTemplate(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
  let input = FuzzInput(data, size)
  let all = input.bytes
  var fields = all.split(separator: 0, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
  while fields.count < 11 { fields.append("") }
  let (text, method, path, authority, headerValue, contextValue, providerValue, client, glob, range, address) =
    (fields[0], fields[1], fields[2], fields[3], fields[4], fields[5], fields[6], fields[7], fields[8], fields[9], fields[10])

  // Templates.
  var headerFields: [HeaderField] = []
  var contextExtensions: [String: String] = [:]
  do throws(TemplateError) {
    let template = try Template(text)
    fuzzCheck(template.source == text, "source not kept", input: all)
    for variable in template.variables {
      switch variable {
      case .header(let name): headerFields.append(HeaderField(name: name, value: headerValue))
      case .context(let key): contextExtensions[key] = contextValue
      default: break
      }
    }
    let request = CheckRequestAttributes(
      method: method, path: path, authority: authority, scheme: method, requestID: headerValue,
      headers: RequestHeaders(fields: headerFields), sourceAddress: client, destinationAddress: contextValue,
      contextExtensions: contextExtensions, peerIdentity: providerValue
    )
    let rendered = template.render(request, clientAddress: client, provider: { _, _ in providerValue })
    let cleanLiterals = template.literalParts.allSatisfy { HeaderRules.valueProblem($0.utf8, maxBytes: .max) == nil }
    if cleanLiterals {
      let bytes = Array(rendered.utf8)
      fuzzCheck(
        HeaderRules.valueProblem(bytes, maxBytes: Template.maxRenderedBytes) == nil,
        "rendered value breaks a header rule: \(HeaderRules.valueProblem(bytes, maxBytes: Template.maxRenderedBytes) ?? "")",
        input: all
      )
      fuzzCheck(!bytes.contains(13) && !bytes.contains(10) && !bytes.contains(0), "rendered value holds CR, LF or NUL", input: all)
      fuzzCheck(
        bytes.first != 0x20 && bytes.first != 0x09 && bytes.last != 0x20 && bytes.last != 0x09,
        "rendered value not trimmed", input: all)
    }
    if let literal = template.literalText {
      fuzzCheck(rendered == Template.finish(literal), "a literal template renders something else", input: all)
    }
  } catch {
    fuzzCheck(!error.message.isEmpty, "template error without a message", input: all)
  }
  var escaped = ""
  for character in text {
    escaped.append(character)
    if character == "{" || character == "}" { escaped.append(character) }
  }
  do throws(TemplateError) {
    let literal = try Template(escaped)
    fuzzCheck(literal.isLiteral && (literal.literalText ?? "") == text, "doubled braces do not give the literal text back", input: all)
  } catch {
    fuzzFailure("a text with doubled braces is refused: \(error)", input: all)
  }

  // `*` patterns.
  let patternBytes = Array(glob.utf8)
  let authorityBytes = Array(authority.utf8)
  fuzzCheck(
    HostGlob.wildcardMatch(patternBytes, authorityBytes, caseInsensitive: false)
      == referenceMatch(patternBytes[...], authorityBytes[...]),
    "wildcard match disagrees with the reference (case-sensitive)", input: all)
  fuzzCheck(
    HostGlob.wildcardMatch(patternBytes.map(asciiLower), authorityBytes, caseInsensitive: true)
      == referenceMatch(patternBytes.map(asciiLower)[...], authorityBytes.map(asciiLower)[...]),
    "wildcard match disagrees with the reference (case-insensitive)", input: all)
  fuzzCheck(
    IdentityPattern(glob).matches(authority) == referenceMatch(patternBytes[...], authorityBytes[...]),
    "identity pattern disagrees with the reference", input: all)
  let host = Authority.host(of: authority)
  fuzzCheck(authority.hasPrefix(host), "the host is not a prefix of the authority", input: all)
  if HostGlob.problem(glob) == nil {
    _ = HostGlob(glob).matches(authority)
  }

  // Addresses and ranges.
  let ip = IPAddress.parse(address)
  if let ip {
    fuzzCheck(IPAddress.parse(ip.description) == ip, "\(ip) does not parse back", input: all)
  }
  _ = IPAddress.parseLenient(client)
  var cidr: CIDR?
  do throws(CIDRError) {
    let parsed = try CIDR(range)
    cidr = parsed
    fuzzCheck(parsed.contains(parsed.network), "\(parsed) does not contain its network", input: all)
    if let ip {
      let bits = parsed.network.isIPv4 && parsed.prefixLength <= 32 && !range.contains(":") ? 96 + parsed.prefixLength : parsed.prefixLength
      fuzzCheck(parsed.contains(ip) == samePrefix(ip, parsed.network, bits: bits), "\(parsed) contains(\(ip)) is wrong", input: all)
    }
  } catch {
    fuzzCheck(!error.message.isEmpty, "range error without a message", input: all)
  }

  // A rule: AND of its conditions.
  let clientIP = IPAddress.parseLenient(client)
  let request = CheckRequestAttributes(
    method: method, path: path, authority: authority, scheme: "http", requestID: nil,
    headers: RequestHeaders(fields: headerValue.isEmpty ? [] : [HeaderField(name: "x-h", value: headerValue)]),
    contextExtensions: contextValue.isEmpty ? [:] : ["k": contextValue], peerIdentity: providerValue.isEmpty ? nil : providerValue
  )
  fuzzCheck(RuleMatch().matches(request, clientAddress: clientIP), "a rule without conditions refuses a request", input: all)
  var singles: [RuleMatch] = []
  if HostGlob.problem(glob) == nil { singles.append(RuleMatch(authorities: [HostGlob(glob)])) }
  singles.append(RuleMatch(pathPrefixes: [text]))
  singles.append(RuleMatch(exactPaths: [text]))
  singles.append(RuleMatch(methods: [method.uppercased()]))
  if let cidr { singles.append(RuleMatch(clientCIDRs: [cidr])) }
  singles.append(RuleMatch(headersPresent: ["x-h"]))
  singles.append(RuleMatch(headersEqual: [ExpectedValue(name: "x-h", value: contextValue)]))
  singles.append(RuleMatch(contextExtensions: [ExpectedValue(name: "k", value: headerValue)]))
  singles.append(RuleMatch(peerIdentities: [IdentityPattern(glob)]))
  var combined = RuleMatch()
  for single in singles {
    combined.authorities += single.authorities
    combined.pathPrefixes += single.pathPrefixes
    combined.exactPaths += single.exactPaths
    combined.methods += single.methods
    combined.clientCIDRs += single.clientCIDRs
    combined.headersPresent += single.headersPresent
    combined.headersEqual += single.headersEqual
    combined.contextExtensions += single.contextExtensions
    combined.peerIdentities += single.peerIdentities
  }
  // path_prefix and path_exact are one condition (either may match): compare with that pair.
  let pathEither = RuleMatch(pathPrefixes: [text], exactPaths: [text])
  let others = singles.filter { $0.pathPrefixes.isEmpty && $0.exactPaths.isEmpty }
  let expected = pathEither.matches(request, clientAddress: clientIP) && others.allSatisfy { $0.matches(request, clientAddress: clientIP) }
  fuzzCheck(combined.matches(request, clientAddress: clientIP) == expected, "a rule is not the AND of its conditions", input: all)
  return 0
}

private func asciiLower(_ byte: UInt8) -> UInt8 {
  byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte + 32 : byte
}

/// `*` matches any run of bytes: a plain dynamic-programming matcher.
private func referenceMatch(_ pattern: ArraySlice<UInt8>, _ text: ArraySlice<UInt8>) -> Bool {
  let p = Array(pattern)
  let t = Array(text)
  var row = [Bool](repeating: false, count: t.count + 1)  // matches of p[..<i] against t[..<j]
  row[0] = true
  for i in 0..<p.count {
    var next = [Bool](repeating: false, count: t.count + 1)
    if p[i] == UInt8(ascii: "*") {
      next[0] = row[0]
      for j in 1...max(1, t.count) where j <= t.count { next[j] = row[j] || next[j - 1] }
    } else {
      for j in 1...max(1, t.count) where j <= t.count { next[j] = row[j - 1] && p[i] == t[j - 1] }
    }
    row = next
  }
  return row[t.count]
}

/// Whether the first `bits` bits (of 128) of `a` and `b` agree.
private func samePrefix(_ a: IPAddress, _ b: IPAddress, bits: Int) -> Bool {
  for bit in 0..<bits {
    let shift = UInt64(63 - bit % 64)
    let x = bit < 64 ? a.high >> shift & 1 : a.low >> shift & 1
    let y = bit < 64 ? b.high >> shift & 1 : b.low >> shift & 1
    if x != y { return false }
  }
  return true
}

@main enum FuzzTemplateMain {
  static func main() { runFuzzer(fuzzTemplate) }
}
