//===----------------------------------------------------------------------===//
// Deployment test support: JSON and YAML values with shape-tolerant accessors.
//===----------------------------------------------------------------------===//

import Foundation
import TestSupport
import Yams

@testable import AugmenterCore

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

/// Written back as JSON text (a PrometheusRule's spec becomes a rule file for promtool: JSON is YAML).
extension JSON: Encodable {
  func encode(to encoder: any Encoder) throws {
    var container = encoder.singleValueContainer()
    switch self {
    case .object(let object): try container.encode(object)
    case .array(let array): try container.encode(array)
    case .string(let value): try container.encode(value)
    case .number(let value): try container.encode(value)
    case .bool(let value): try container.encode(value)
    case .null: try container.encodeNil()
    }
  }
}

/// YAML documents as ``JSON`` values, parsed with Yams (the parser Augmenter itself uses): every
/// document of a stream, empty ones dropped.
enum YAML {
  static func documents(_ text: String) async throws -> [JSON] {
    var stream = try Yams.load_all(yaml: text)
    var documents: [JSON] = []
    while let document = stream.next() {
      let value = try JSON(yaml: document)
      if value != .null { documents.append(value) }
    }
    if let error = stream.error { throw TestFailure("YAML parse failed: \(error)") }
    return documents
  }

  static func document(_ text: String) async throws -> JSON {
    let documents = try await documents(text)
    guard documents.count == 1 else { throw TestFailure("expected one YAML document, got \(documents.count)") }
    return documents[0]
  }
}

extension JSON {
  /// The JSON value of what Yams constructed; mapping keys that are not strings are written the
  /// way JSON would (`80`, `true`). Values JSON has no form for (timestamps, binary) are refused.
  init(yaml value: Any) throws {
    switch value {
    case is NSNull: self = .null
    case let value as Bool: self = .bool(value)
    case let value as Int: self = .number(Double(value))
    case let value as Double: self = .number(value)
    case let value as String: self = .string(value)
    case let value as [Any]: self = .array(try value.map { try JSON(yaml: $0) })
    case let value as [AnyHashable: Any]:
      var object: [String: JSON] = [:]
      for (key, element) in value {
        object[(key.base as? String) ?? "\(key.base)"] = try JSON(yaml: element)
      }
      self = .object(object)
    default: throw TestFailure("YAML value \(value) (\(type(of: value))) has no JSON form")
    }
  }
}

/// Seconds in a duration as Augmenter and Istio write them (`500ms`, `0.5s`, `10s`, `1m30s`),
/// read by Augmenter's own parser; nil when the text is not a duration.
func durationSeconds(_ text: String) -> Double? {
  guard case .success(let duration) = DurationText.parse(text) else { return nil }
  let (seconds, attoseconds) = duration.components
  return Double(seconds) + Double(attoseconds) / 1e18
}
