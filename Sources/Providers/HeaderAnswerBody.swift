//===----------------------------------------------------------------------===//
// Augmenter — headers a fetcher made itself, written as the JSON map an http provider answers.
//===----------------------------------------------------------------------===//

/// Writes header name/value pairs as a JSON object, so that file and token providers go through
/// the same `ProviderAnswerValidator` as an endpoint's answer: one set of rules for every kind.
enum HeaderAnswerBody {
  /// `{"name": "value", ...}` in the given order.
  static func json(_ headers: [(name: String, value: String)]) -> [UInt8] {
    var out: [UInt8] = [UInt8(ascii: "{")]
    for (index, header) in headers.enumerated() {
      if index > 0 { out.append(UInt8(ascii: ",")) }
      appendString(header.name, to: &out)
      out.append(UInt8(ascii: ":"))
      appendString(header.value, to: &out)
    }
    out.append(UInt8(ascii: "}"))
    return out
  }

  /// A JSON string: quotes, backslashes and control characters escaped (RFC 8259 §7), so a value
  /// with a newline reaches the validator as a newline and is refused there.
  private static func appendString(_ text: String, to out: inout [UInt8]) {
    out.append(UInt8(ascii: "\""))
    for byte in text.utf8 {
      switch byte {
      case UInt8(ascii: "\""), UInt8(ascii: "\\"):
        out.append(UInt8(ascii: "\\"))
        out.append(byte)
      case 0..<0x20:
        let hex = Array("0123456789abcdef".utf8)
        out.append(contentsOf: Array("\\u00".utf8))
        out.append(hex[Int(byte >> 4)])
        out.append(hex[Int(byte & 0xF)])
      default:
        out.append(byte)
      }
    }
    out.append(UInt8(ascii: "\""))
  }
}
