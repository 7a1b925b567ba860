//===----------------------------------------------------------------------===//
// Augmenter — application/x-www-form-urlencoded, for token requests (RFC 6749 Appendix B).
//===----------------------------------------------------------------------===//

/// Encodes form parameters and the client credentials of HTTP Basic (RFC 6749 §2.3.1).
enum FormURLEncoding {
  /// `name=value&...`, each part percent-encoded.
  static func body(_ parameters: [(name: String, value: String)]) -> String {
    parameters.map { "\(encode($0.name))=\(encode($0.value))" }.joined(separator: "&")
  }

  /// Every byte outside ALPHA, DIGIT and `-._~` percent-encoded (UTF-8). A space is `%20`
  /// rather than `+`: both mean a space in a form, but servers that decode the Basic
  /// credentials with a plain percent-decoder only understand `%20`.
  static func encode(_ text: String) -> String {
    var out = ""
    out.reserveCapacity(text.utf8.count)
    let hex = Array("0123456789ABCDEF")
    for byte in text.utf8 {
      switch byte {
      case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
        UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
        UInt8(ascii: "~"):
        out.unicodeScalars.append(Unicode.Scalar(byte))
      default:
        out.append("%")
        out.append(hex[Int(byte >> 4)])
        out.append(hex[Int(byte & 0xF)])
      }
    }
    return out
  }
}
