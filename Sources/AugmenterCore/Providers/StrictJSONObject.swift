// A small strict JSON reader for provider answers.
//
// Why not JSONSerialization: it silently keeps the last of two equal keys (we must reject the
// answer), loses key order, and its error texts can quote a fragment of the input (which may
// be a header value). This reader reports errors by byte offset only, and is a single pass over
// the bytes without building objects for anything but the top-level string values.

/// The top level of a JSON document that is an object: its members in order, string values
/// decoded, other values only classified.
struct StrictJSONObject {
  /// A member's value: a decoded string, or the kind of non-string value it was.
  enum Value: Equatable {
    case string(String)
    case other(kind: String)
  }

  /// The members in document order (duplicates included: the caller decides).
  var members: [(name: String, value: Value)]

  /// Why a body could not be read; never quotes input.
  struct ParseError: Error, Equatable {
    var message: String
    /// True when the body is valid JSON of another type, false for a syntax error.
    var isWrongType = false
  }

  /// How deep nested values may go (they are skipped, but recursion must stay bounded).
  static let maxDepth = 32

  /// Parses `bytes` (already checked to be UTF-8) as a JSON document whose top level is an object.
  static func parse(_ bytes: [UInt8]) -> Result<StrictJSONObject, ParseError> {
    var reader = Reader(bytes: bytes)
    do {
      reader.skipWhitespace()
      guard let first = reader.peek() else { throw reader.error("the body is empty") }
      guard first == UInt8(ascii: "{") else {
        // Classify what it is, so the message says "an array" rather than "bad byte".
        let kind = try reader.skipValue(depth: 0)
        reader.skipWhitespace()
        if reader.peek() != nil { throw reader.error("unexpected data after the JSON value at byte \(reader.offset)") }
        throw ParseError(message: "top level is \(kind), expected an object", isWrongType: true)
      }
      let members = try reader.readTopLevelObject()
      reader.skipWhitespace()
      if reader.peek() != nil {
        throw reader.error("unexpected data after the JSON object at byte \(reader.offset)")
      }
      return .success(StrictJSONObject(members: members))
    } catch let error as ParseError {
      return .failure(error)
    } catch {
      return .failure(ParseError(message: "unreadable JSON"))
    }
  }

  private struct Reader {
    let bytes: [UInt8]
    var offset = 0

    func peek() -> UInt8? {
      offset < bytes.count ? bytes[offset] : nil
    }

    func error(_ message: String) -> ParseError {
      ParseError(message: message)
    }

    func unexpected() -> ParseError {
      offset < bytes.count
        ? ParseError(message: "unexpected character at byte \(offset)")
        : ParseError(message: "unexpected end of the body")
    }

    mutating func skipWhitespace() {
      while offset < bytes.count {
        switch bytes[offset] {
        case 0x20, 0x09, 0x0A, 0x0D: offset += 1
        default: return
        }
      }
    }

    mutating func expect(_ byte: UInt8) throws {
      guard peek() == byte else { throw unexpected() }
      offset += 1
    }

    mutating func readTopLevelObject() throws -> [(name: String, value: Value)] {
      try expect(UInt8(ascii: "{"))
      var members: [(name: String, value: Value)] = []
      skipWhitespace()
      if peek() == UInt8(ascii: "}") {
        offset += 1
        return members
      }
      while true {
        skipWhitespace()
        guard peek() == UInt8(ascii: "\"") else { throw unexpected() }
        let name = try readString()
        skipWhitespace()
        try expect(UInt8(ascii: ":"))
        skipWhitespace()
        let value: Value
        if peek() == UInt8(ascii: "\"") {
          value = .string(try readString())
        } else {
          value = .other(kind: try skipValue(depth: 1))
        }
        members.append((name, value))
        skipWhitespace()
        switch peek() {
        case UInt8(ascii: ","): offset += 1
        case UInt8(ascii: "}"):
          offset += 1
          return members
        default: throw unexpected()
        }
      }
    }

    /// Skips any value, returning its kind ("a number", "an array", ...).
    mutating func skipValue(depth: Int) throws -> String {
      guard depth <= StrictJSONObject.maxDepth else { throw error("nested deeper than \(StrictJSONObject.maxDepth) levels") }
      guard let byte = peek() else { throw unexpected() }
      switch byte {
      case UInt8(ascii: "\""):
        _ = try readString()
        return "a string"
      case UInt8(ascii: "{"):
        offset += 1
        skipWhitespace()
        if peek() == UInt8(ascii: "}") {
          offset += 1
          return "an object"
        }
        while true {
          skipWhitespace()
          guard peek() == UInt8(ascii: "\"") else { throw unexpected() }
          _ = try readString()
          skipWhitespace()
          try expect(UInt8(ascii: ":"))
          skipWhitespace()
          _ = try skipValue(depth: depth + 1)
          skipWhitespace()
          switch peek() {
          case UInt8(ascii: ","): offset += 1
          case UInt8(ascii: "}"):
            offset += 1
            return "an object"
          default: throw unexpected()
          }
        }
      case UInt8(ascii: "["):
        offset += 1
        skipWhitespace()
        if peek() == UInt8(ascii: "]") {
          offset += 1
          return "an array"
        }
        while true {
          skipWhitespace()
          _ = try skipValue(depth: depth + 1)
          skipWhitespace()
          switch peek() {
          case UInt8(ascii: ","): offset += 1
          case UInt8(ascii: "]"):
            offset += 1
            return "an array"
          default: throw unexpected()
          }
        }
      case UInt8(ascii: "t"):
        try literal("true")
        return "a boolean"
      case UInt8(ascii: "f"):
        try literal("false")
        return "a boolean"
      case UInt8(ascii: "n"):
        try literal("null")
        return "null"
      case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
        try skipNumber()
        return "a number"
      default:
        throw unexpected()
      }
    }

    mutating func literal(_ word: StaticString) throws {
      let start = offset
      for byte in UnsafeBufferPointer(start: word.utf8Start, count: word.utf8CodeUnitCount) {
        guard peek() == byte else {
          offset = start
          throw unexpected()
        }
        offset += 1
      }
    }

    /// JSON number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
    mutating func skipNumber() throws {
      func isDigit(_ b: UInt8?) -> Bool { b.map { $0 >= 0x30 && $0 <= 0x39 } ?? false }
      if peek() == UInt8(ascii: "-") { offset += 1 }
      if peek() == UInt8(ascii: "0") {
        offset += 1
      } else {
        guard isDigit(peek()) else { throw unexpected() }
        while isDigit(peek()) { offset += 1 }
      }
      if peek() == UInt8(ascii: ".") {
        offset += 1
        guard isDigit(peek()) else { throw unexpected() }
        while isDigit(peek()) { offset += 1 }
      }
      if peek() == UInt8(ascii: "e") || peek() == UInt8(ascii: "E") {
        offset += 1
        if peek() == UInt8(ascii: "+") || peek() == UInt8(ascii: "-") { offset += 1 }
        guard isDigit(peek()) else { throw unexpected() }
        while isDigit(peek()) { offset += 1 }
      }
    }

    /// Reads a string starting at its opening quote, decoding escapes.
    mutating func readString() throws -> String {
      try expect(UInt8(ascii: "\""))
      let start = offset
      // Fast path: no escapes, so the bytes are the string (the body was validated as UTF-8).
      while offset < bytes.count {
        let byte = bytes[offset]
        if byte == UInt8(ascii: "\"") {
          let text = String(decoding: bytes[start..<offset], as: UTF8.self)
          offset += 1
          return text
        }
        if byte == UInt8(ascii: "\\") { break }
        if byte < 0x20 { throw error("control character inside a string at byte \(offset)") }
        offset += 1
      }
      var scalars = String.UnicodeScalarView()
      var utf8 = Array(bytes[start..<offset])
      // Slow path: decode escapes; raw bytes are accumulated and flushed as UTF-8.
      func flush() {
        if !utf8.isEmpty {
          scalars.append(contentsOf: String(decoding: utf8, as: UTF8.self).unicodeScalars)
          utf8.removeAll(keepingCapacity: true)
        }
      }
      while true {
        guard offset < bytes.count else { throw error("unterminated string") }
        let byte = bytes[offset]
        switch byte {
        case UInt8(ascii: "\""):
          offset += 1
          flush()
          return String(scalars)
        case UInt8(ascii: "\\"):
          let escapeOffset = offset
          offset += 1
          guard let escaped = peek() else { throw error("unterminated string") }
          offset += 1
          switch escaped {
          case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): utf8.append(escaped)
          case UInt8(ascii: "b"): utf8.append(0x08)
          case UInt8(ascii: "f"): utf8.append(0x0C)
          case UInt8(ascii: "n"): utf8.append(0x0A)
          case UInt8(ascii: "r"): utf8.append(0x0D)
          case UInt8(ascii: "t"): utf8.append(0x09)
          case UInt8(ascii: "u"):
            let unit = try hex4()
            var scalar: Unicode.Scalar?
            if (0xD800..<0xDC00).contains(unit) {
              // A high surrogate must be followed by an escaped low surrogate.
              guard peek() == UInt8(ascii: "\\"), offset + 1 < bytes.count, bytes[offset + 1] == UInt8(ascii: "u") else {
                throw error("unpaired surrogate escape at byte \(escapeOffset)")
              }
              offset += 2
              let low = try hex4()
              guard (0xDC00..<0xE000).contains(low) else { throw error("unpaired surrogate escape at byte \(escapeOffset)") }
              scalar = Unicode.Scalar(0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00))
            } else if (0xDC00..<0xE000).contains(unit) {
              throw error("unpaired surrogate escape at byte \(escapeOffset)")
            } else {
              scalar = Unicode.Scalar(unit)
            }
            guard let scalar else { throw error("invalid escape at byte \(escapeOffset)") }
            flush()
            scalars.append(scalar)
          default:
            throw error("invalid escape at byte \(escapeOffset)")
          }
        default:
          if byte < 0x20 { throw error("control character inside a string at byte \(offset)") }
          utf8.append(byte)
          offset += 1
        }
      }
    }

    mutating func hex4() throws -> UInt32 {
      guard offset + 4 <= bytes.count else { throw error("unterminated string") }
      var value: UInt32 = 0
      for _ in 0..<4 {
        let byte = bytes[offset]
        let digit: UInt32
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - UInt8(ascii: "A") + 10)
        default: throw error("invalid \\u escape at byte \(offset)")
        }
        value = value << 4 | digit
        offset += 1
      }
      return value
    }
  }
}
