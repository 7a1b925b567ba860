//===----------------------------------------------------------------------===//
// Augmenter — text as a JSON string literal, for the documents and log lines we write by hand.
//===----------------------------------------------------------------------===//

/// JSON string literals (RFC 8259 escaping), for the JSON Augmenter writes without an encoder:
/// problem documents on the check path (no Foundation, no allocation beyond the result) and
/// JSON log lines.
public enum JSONText {
  /// `text` quoted and escaped: `"`, `\`, and control characters (as `\n`, `\r`, `\t` or
  /// `\u00XX`).
  public static func quoted(_ text: String) -> String {
    var out = "\""
    for scalar in text.unicodeScalars {
      switch scalar {
      case "\"": out += "\\\""
      case "\\": out += "\\\\"
      case "\n": out += "\\n"
      case "\r": out += "\\r"
      case "\t": out += "\\t"
      case _ where scalar.value < 0x20 || scalar.value == 0x7F:
        let hex = String(scalar.value, radix: 16)
        out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
      default: out.unicodeScalars.append(scalar)
      }
    }
    return out + "\""
  }
}
