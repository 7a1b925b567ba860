//===----------------------------------------------------------------------===//
// Augmenter — reading a token endpoint's answer (RFC 6749 §5.1 success, §5.2 error).
//===----------------------------------------------------------------------===//

import Foundation

/// A token endpoint's answer, read strictly: what is missing or wrong is said plainly, and the
/// access token itself never appears in any message.
public enum OAuth2TokenResponse {
  /// A usable access token.
  public struct Token: Sendable, Hashable {
    /// The access token.
    public var accessToken: String
    /// Its lifetime, when the server stated one (`expires_in`, positive).
    public var expiresIn: Duration?
    /// What a token exchange issued (`issued_token_type`, RFC 8693 §2.2.1), when stated.
    public var issuedTokenType: String? = nil
  }

  /// Why there is no token.
  public enum Problem: Error, Sendable, Hashable, CustomStringConvertible {
    /// An OAuth 2.0 error response (§5.2): the server refused the request (a fetch failure).
    case oauthError(error: String, description: String?)
    /// Neither a token nor an OAuth 2.0 error: an HTTP status without one (a fetch failure).
    case status(Int)
    /// A 200 answer that is not a usable token (a rejection: the answer broke a rule).
    case rejected(String)

    public var description: String {
      switch self {
      case .oauthError(let error, let description):
        "token endpoint error \(error)" + (description.map { ": \($0)" } ?? "")
      case .status(let status):
        "token endpoint answered HTTP status \(status) without an OAuth 2.0 error"
      case .rejected(let reason):
        "token answer refused: \(reason)"
      }
    }
  }

  /// The members read; everything else is ignored.
  private struct Body: Decodable {
    var accessToken: String?
    var tokenType: String?
    var expiresIn: Number?
    var error: String?
    var errorDescription: String?
    var issuedTokenType: String?

    enum CodingKeys: String, CodingKey {
      case accessToken = "access_token"
      case tokenType = "token_type"
      case expiresIn = "expires_in"
      case error
      case errorDescription = "error_description"
      case issuedTokenType = "issued_token_type"
    }
  }

  /// `expires_in` as sent: RFC 6749 makes it a number, and some servers send it as a string.
  private enum Number: Decodable {
    case value(Double)
    case notANumber

    init(from decoder: any Decoder) throws {
      let container = try decoder.singleValueContainer()
      if let value = try? container.decode(Double.self) {
        self = .value(value)
      } else if let text = try? container.decode(String.self), let value = Double(text) {
        self = .value(value)
      } else {
        self = .notANumber
      }
    }
  }

  /// Reads an answer with HTTP status `status` and body `body`.
  ///
  /// The answer's `token_type` must be `expectedTokenType` (any case; Bearer unless the provider
  /// says otherwise). When `requestedTokenType` was asked for, an `issued_token_type` that names
  /// another type is refused: the header would carry a token the upstream does not expect.
  public static func parse(
    status: Int, body: [UInt8], expectedTokenType: String = "Bearer", requestedTokenType: String? = nil
  ) -> Result<Token, Problem> {
    let decoded = try? JSONDecoder().decode(Body.self, from: Data(body))
    guard status == 200 else {
      if let decoded, let error = decoded.error, !error.isEmpty {
        return .failure(
          .oauthError(error: printable(error, max: 64), description: decoded.errorDescription.map { printable($0, max: 200) }))
      }
      return .failure(.status(status))
    }
    guard let decoded else {
      return .failure(.rejected("the body is not a JSON object"))
    }
    if let error = decoded.error, decoded.accessToken == nil {
      return .failure(.oauthError(error: printable(error, max: 64), description: decoded.errorDescription.map { printable($0, max: 200) }))
    }
    guard let accessToken = decoded.accessToken, !accessToken.isEmpty else {
      return .failure(.rejected("no access_token"))
    }
    // RFC 6749 §7.1: the type is case-insensitive; anything but Bearer needs more than a header,
    // so another type is accepted only when the provider names it.
    let expected = printable(expectedTokenType, max: 32)
    guard let tokenType = decoded.tokenType else {
      return .failure(.rejected("no token_type (expected \(expected))"))
    }
    guard tokenType.lowercased() == expectedTokenType.lowercased() else {
      return .failure(.rejected("token_type is \"\(printable(tokenType, max: 32))\", expected \(expected)"))
    }
    if let requestedTokenType, let issued = decoded.issuedTokenType, issued != requestedTokenType {
      return .failure(
        .rejected(
          "issued_token_type is \"\(printable(issued, max: 80))\", requested \(printable(requestedTokenType, max: 80))"))
    }
    var expiresIn: Duration?
    switch decoded.expiresIn {
    case nil:
      break
    case .notANumber:
      return .failure(.rejected("expires_in is not a number"))
    case .value(let seconds):
      guard seconds.isFinite, seconds > 0 else {
        return .failure(
          .rejected("expires_in is \(seconds.isFinite ? String(seconds) : "not finite"), expected a positive number of seconds"))
      }
      expiresIn = .seconds(min(seconds, 1e9))
    }
    return .success(Token(accessToken: accessToken, expiresIn: expiresIn, issuedTokenType: decoded.issuedTokenType))
  }

  /// Server-chosen text for a log line: printable ASCII only, bounded.
  static func printable(_ text: String, max: Int) -> String {
    let cleaned = String(text.unicodeScalars.map { $0.isASCII && $0.value >= 0x20 && $0.value < 0x7F ? Character($0) : "?" })
    return cleaned.count > max ? String(cleaned.prefix(max)) + "…" : cleaned
  }
}
