import Foundation

/// A parsed JSON (or YAML, converted) value, with accessors that return `nil` on a shape mismatch so
/// tests can say which field is missing instead of crashing.
enum JSON: Sendable, Hashable, Decodable, CustomStringConvertible {
  case object([String: JSON])
  case array([JSON])
  case string(String)
  case number(Double)
  case bool(Bool)
  case null

  init(from decoder: any Decoder) throws {
    let container = try decoder.singleValueContainer()
    if container.decodeNil() {
      self = .null
    } else if let value = try? container.decode(Bool.self) {
      self = .bool(value)
    } else if let value = try? container.decode(Double.self) {
      self = .number(value)
    } else if let value = try? container.decode(String.self) {
      self = .string(value)
    } else if let value = try? container.decode([JSON].self) {
      self = .array(value)
    } else {
      self = .object(try container.decode([String: JSON].self))
    }
  }

  static func parse(_ text: String) throws -> JSON {
    try JSONDecoder().decode(JSON.self, from: Data(text.utf8))
  }

  subscript(key: String) -> JSON? {
    if case .object(let object) = self { return object[key] }
    return nil
  }

  /// Follows a dotted path of object keys: `json["spec.template.spec"]`-style, as `json[path: ...]`.
  subscript(path path: String) -> JSON? {
    var current: JSON? = self
    for key in path.split(separator: ".") {
      current = current?[String(key)]
    }
    return current
  }

  var string: String? {
    if case .string(let value) = self { return value }
    return nil
  }

  var int: Int? {
    if case .number(let value) = self, value == value.rounded() { return Int(value) }
    return nil
  }

  var bool: Bool? {
    if case .bool(let value) = self { return value }
    return nil
  }

  var array: [JSON]? {
    if case .array(let value) = self { return value }
    return nil
  }

  var object: [String: JSON]? {
    if case .object(let value) = self { return value }
    return nil
  }

  /// The `[String: String]` of an object whose values are all strings (labels, selectors).
  var stringMap: [String: String]? {
    guard let object else { return nil }
    var result: [String: String] = [:]
    for (key, value) in object {
      guard let text = value.string else { return nil }
      result[key] = text
    }
    return result
  }

  /// The strings of an array of strings.
  var strings: [String]? {
    array?.compactMap(\.string)
  }

  var description: String {
    switch self {
    case .object(let object):
      "{" + object.keys.sorted().map { "\"\($0)\": \(object[$0]!)" }.joined(separator: ", ") + "}"
    case .array(let array): "[" + array.map(\.description).joined(separator: ", ") + "]"
    case .string(let value): "\"\(value)\""
    case .number(let value): value == value.rounded() ? String(Int(value)) : String(value)
    case .bool(let value): String(value)
    case .null: "null"
    }
  }
}

/// YAML to JSON through the venv's PyYAML: `yaml.safe_load_all`, every document, empty ones dropped.
enum YAML {
  private static let converter = """
    import json, sys, yaml
    docs = [d for d in yaml.safe_load_all(sys.stdin) if d is not None]
    json.dump(docs, sys.stdout)
    """

  static func documents(_ text: String) async throws -> [JSON] {
    let result = try await Command.run(try Tools.python(), ["-c", converter], stdin: text)
    guard result.succeeded else { throw TestFailure("YAML to JSON failed: \(result)") }
    guard let documents = try JSON.parse(result.stdout).array else {
      throw TestFailure("YAML to JSON gave no list: \(result.stdout.prefix(200))")
    }
    return documents
  }

  static func document(_ text: String) async throws -> JSON {
    let documents = try await documents(text)
    guard documents.count == 1 else { throw TestFailure("expected one YAML document, got \(documents.count)") }
    return documents[0]
  }
}

/// Durations as Augmenter and Istio write them: `500ms`, `0.5s`, `10s`, `6m`, `1h`, `1m30s`.
enum DurationText {
  static func seconds(_ text: String) -> Double? {
    var total = 0.0
    var rest = Substring(text)
    guard !rest.isEmpty else { return nil }
    while !rest.isEmpty {
      let number = rest.prefix { $0.isNumber || $0 == "." }
      guard let value = Double(number) else { return nil }
      rest = rest.dropFirst(number.count)
      let unit = rest.prefix { $0.isLetter }
      rest = rest.dropFirst(unit.count)
      switch unit {
      case "ms": total += value / 1000
      case "s": total += value
      case "m": total += value * 60
      case "h": total += value * 3600
      default: return nil
      }
    }
    return total
  }
}
