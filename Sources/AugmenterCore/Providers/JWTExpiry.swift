// The `exp` claim of a header value that is a JWT, read without verifying anything: Augmenter
// forwards tokens, it does not trust them, and only needs to know when the upstream will stop
// accepting one.

public import Foundation

/// Reads the expiry of a JWT (RFC 7519) or of `Bearer <JWT>` (RFC 6750).
///
/// The payload is base64url-decoded and its `exp` read; the signature is never checked. Anything
/// malformed (not three segments, bad base64url, not a JSON object, `exp` missing or not a number)
/// is no information, never an error: plenty of header values merely look like JWTs.
public enum JWTExpiry {
  /// The `exp` of `value` as a wall-clock time, or `nil` when `value` carries none.
  public static func expiry(ofHeaderValue value: String) -> Date? {
    var token = Substring(value)
    // RFC 6750 §2.1: the scheme is case-insensitive; one or more spaces follow it.
    if token.count > 7, token.prefix(7).lowercased() == "bearer " {
      token = token.dropFirst(7).drop { $0 == " " }
    }
    return expiry(ofToken: token)
  }

  /// The `exp` of a compact JWS, or `nil`.
  static func expiry(ofToken token: Substring) -> Date? {
    let segments = token.split(separator: ".", omittingEmptySubsequences: false)
    // A JWE has five segments and an encrypted payload: no information.
    guard segments.count == 3, !segments[0].isEmpty, !segments[1].isEmpty else { return nil }
    // JSONDecoder refuses `true` or `"123"` for a Double: neither is a NumericDate.
    guard let payload = base64URLDecoded(segments[1]),
      let claims = try? JSONDecoder().decode(Claims.self, from: payload),
      let seconds = claims.exp, seconds.isFinite
    else { return nil }
    return Date(timeIntervalSince1970: seconds)
  }

  /// The one claim read.
  private struct Claims: Decodable {
    var exp: Double?
  }

  /// Decodes base64url without padding (RFC 7515 §2), `nil` on any character outside it.
  static func base64URLDecoded(_ text: Substring) -> Data? {
    guard text.utf8.allSatisfy({ Self.isBase64URL($0) }) else { return nil }
    var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
    switch base64.utf8.count % 4 {
    case 0: break
    case 2: base64 += "=="
    case 3: base64 += "="
    default: return nil
    }
    return Data(base64Encoded: base64)
  }

  private static func isBase64URL(_ byte: UInt8) -> Bool {
    switch byte {
    case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
      UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"):
      return true
    default:
      return false
    }
  }
}
