// A provider answer is accepted as a whole or not at all: a partly applied answer would send
// upstream a header set nobody produced.

/// Bounds applied to a provider answer.
public struct ProviderAnswerLimits: Sendable, Hashable {
  /// Largest body, in bytes.
  public var maxBodyBytes: Int
  /// Most headers in one answer.
  public var maxHeaders: Int
  /// Longest header name, in bytes.
  public var maxNameBytes: Int
  /// Longest header value, in bytes (after trimming).
  public var maxValueBytes: Int

  /// Creates limits; the defaults are those of DESIGN.md.
  public init(maxBodyBytes: Int = 65536, maxHeaders: Int = 100, maxNameBytes: Int = 256, maxValueBytes: Int = 8192) {
    self.maxBodyBytes = maxBodyBytes
    self.maxHeaders = maxHeaders
    self.maxNameBytes = maxNameBytes
    self.maxValueBytes = maxValueBytes
  }

  /// The default limits.
  public static let `default` = ProviderAnswerLimits()

  /// The default limits with the provider's `max_answer_bytes`.
  public init(provider: ProviderConfig) {
    self.init(maxBodyBytes: provider.maxAnswerBytes)
  }
}

/// Why a provider answer was refused.
///
/// The description names the offending header and the rule it breaks, never the value: values
/// are often credentials, and this text goes to logs and `/status`.
public struct ProviderAnswerError: Error, Sendable, Hashable, CustomStringConvertible {
  /// The offending header's name as received, when the problem is about one header.
  public var headerName: String?
  /// The rule broken, e.g. `value contains CR or LF`, `status 500, expected 200`.
  public var reason: String
  /// The whole message, e.g. `header "x-a": value contains CR or LF`.
  public let description: String

  /// A refusal that is about the answer as a whole, e.g. `token_type is "mac", expected Bearer`.
  public init(_ reason: String) {
    self.headerName = nil
    self.reason = reason
    self.description = reason
  }

  init(header: String, _ reason: String) {
    self.headerName = header
    self.reason = reason
    self.description = "header \(HeaderRules.printable(header)): \(reason)"
  }

  init(header: String, description: String, reason: String) {
    self.headerName = header
    self.reason = reason
    self.description = description
  }
}

/// Validates a provider answer as a whole.
public enum ProviderAnswerValidator {
  /// The headers of a valid answer, names lower-cased, values trimmed, in the answer's order;
  /// or the first rule the answer breaks.
  ///
  /// Valid: status 200; body within `maxBodyBytes`; UTF-8 JSON whose top level is an object
  /// (possibly empty) of at most `maxHeaders` members, every value a string; names RFC 9110
  /// tokens of 1 to `maxNameBytes` bytes, no two equal ignoring case, no pseudo-header, `host`,
  /// hop-by-hop header or `content-length`; values without CR, LF, NUL or other control
  /// characters (HTAB is allowed) and at most `maxValueBytes` bytes.
  ///
  /// Leading and trailing spaces and tabs of a value are trimmed rather than refused: HTTP
  /// parsers strip them anyway, so the upstream sees the same value either way.
  public static func validate(
    _ answer: FetchedAnswer,
    limits: ProviderAnswerLimits = .default
  ) -> Result<[HeaderField], ProviderAnswerError> {
    guard answer.status == 200 else {
      return .failure(ProviderAnswerError("status \(answer.status), expected 200"))
    }
    guard answer.body.count <= limits.maxBodyBytes else {
      return .failure(
        ProviderAnswerError("body is \(answer.body.count) bytes, more than max_answer_bytes \(limits.maxBodyBytes)"))
    }
    guard String(validating: answer.body, as: UTF8.self) != nil else {
      return .failure(ProviderAnswerError("body is not valid UTF-8"))
    }
    let object: StrictJSONObject
    switch StrictJSONObject.parse(answer.body) {
    case .success(let parsed):
      object = parsed
    case .failure(let error) where error.isWrongType:
      return .failure(ProviderAnswerError(error.message))
    case .failure(let error):
      return .failure(ProviderAnswerError("body is not valid JSON: \(error.message)"))
    }
    guard object.members.count <= limits.maxHeaders else {
      return .failure(ProviderAnswerError("\(object.members.count) headers, at most \(limits.maxHeaders) allowed"))
    }

    var headers: [HeaderField] = []
    headers.reserveCapacity(object.members.count)
    var seen = Set<String>(minimumCapacity: object.members.count)
    for (name, value) in object.members {
      guard case .string(let rawValue) = value else {
        if case .other(let kind) = value {
          return .failure(
            ProviderAnswerError(
              header: name,
              description: "value for \(HeaderRules.printable(name)) is not a string (\(kind))",
              reason: "value is not a string (\(kind))"))
        }
        continue
      }
      if let problem = HeaderRules.nameProblem(name, maxBytes: limits.maxNameBytes) {
        return .failure(ProviderAnswerError(header: name, problem))
      }
      let lowered = name.lowercased()
      guard seen.insert(lowered).inserted else {
        return .failure(ProviderAnswerError(header: name, "appears more than once (names are case-insensitive)"))
      }
      let trimmed = HeaderRules.trimmed(rawValue)
      if let problem = HeaderRules.valueProblem(trimmed.utf8, maxBytes: limits.maxValueBytes) {
        return .failure(ProviderAnswerError(header: name, problem))
      }
      headers.append(HeaderField(name: lowered, value: trimmed))
    }
    return .success(headers)
  }
}
