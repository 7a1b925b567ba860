// The configuration document as a small tree of our own.
//
// Yams gives a `Node` tree; we copy it into this one right away so that environment overrides
// can be laid over the file's values before anything is interpreted, and so the rest of the
// loader never sees YAML-specific types. Every scalar stays text: its meaning (number, duration,
// address) depends on the key, and an environment variable is text too.

import Yams

/// One node of a configuration document.
indirect enum ConfigNode: Sendable, Equatable {
  /// An explicit null (`~`, `null`, or nothing after the colon).
  case null
  /// A scalar, as written (quotes removed).
  case scalar(String)
  /// A mapping, in document order.
  case mapping([ConfigEntry])
  /// A sequence.
  case sequence([ConfigNode])

  /// What the node is, for "expected X, got Y" messages.
  var kind: String {
    switch self {
    case .null: "null"
    case .scalar: "a single value"
    case .mapping: "a mapping"
    case .sequence: "a list"
    }
  }

  /// The mapping's entries, or `nil` for other nodes.
  var entries: [ConfigEntry]? {
    if case .mapping(let entries) = self { return entries }
    return nil
  }
}

/// A key and its value inside a mapping.
struct ConfigEntry: Sendable, Equatable {
  var key: String
  var value: ConfigNode
}

extension ConfigNode {
  /// Parses YAML (JSON is YAML's flow subset) into a tree, or returns the problem.
  static func parse(_ text: String) -> Result<ConfigNode, ConfigError> {
    let root: Node?
    do {
      root = try Yams.compose(yaml: text)
    } catch let error as YamlError {
      return .failure(ConfigError(problems: [ConfigProblem(keyPath: "", message: "not valid YAML or JSON: \(describe(error))")]))
    } catch {
      return .failure(ConfigError(problems: [ConfigProblem(keyPath: "", message: "not valid YAML or JSON")]))
    }
    guard let root else { return .success(ConfigNode.null) }
    var problems: [ConfigProblem] = []
    let tree = convert(root, keyPath: "", problems: &problems)
    if !problems.isEmpty { return .failure(ConfigError(problems: problems)) }
    return .success(tree)
  }

  private static func convert(_ node: Node, keyPath: String, problems: inout [ConfigProblem]) -> ConfigNode {
    switch node {
    case .scalar(let scalar):
      // Only an unquoted `null`, `~` or empty scalar is null; a quoted "null" is a string.
      if scalar.style == .plain || scalar.style == .any, node.tag.description == Tag.Name.null.rawValue {
        return .null
      }
      return .scalar(scalar.string)
    case .mapping(let mapping):
      var entries: [ConfigEntry] = []
      for (key, value) in mapping {
        guard case .scalar(let keyScalar) = key else {
          problems.append(ConfigProblem(keyPath: keyPath, message: "keys must be plain strings"))
          continue
        }
        let childPath = keyPath.isEmpty ? keyScalar.string : "\(keyPath).\(keyScalar.string)"
        entries.append(ConfigEntry(key: keyScalar.string, value: convert(value, keyPath: childPath, problems: &problems)))
      }
      return .mapping(entries)
    case .sequence(let sequence):
      return .sequence(
        sequence.enumerated().map { index, element in
          convert(element, keyPath: "\(keyPath)[\(index)]", problems: &problems)
        })
    case .alias:
      // Yams resolves aliases while composing; an unresolved one cannot carry settings.
      problems.append(ConfigProblem(keyPath: keyPath, message: "YAML aliases are not supported here"))
      return .null
    }
  }

  /// A YAML error without the document snippet Yams would add: the snippet could echo a static
  /// header's value (a credential, perhaps) into a terminal or a log.
  private static func describe(_ error: YamlError) -> String {
    func at(_ mark: Mark) -> String { "line \(mark.line), column \(mark.column)" }
    func context(_ context: YamlError.Context?) -> String {
      guard let context else { return "" }
      return "\(context.text) (\(at(context.mark))), "
    }
    switch error {
    case .reader(let problem, _, _, _):
      return problem
    case .scanner(let ctx, let problem, let mark, _),
      .parser(let ctx, let problem, let mark, _),
      .composer(let ctx, let problem, let mark, _):
      return "\(at(mark)): \(context(ctx))\(problem)"
    case .duplicatedKeysInMapping(let duplicates, let ctx):
      let keys = duplicates.sorted().map { "\"\($0)\"" }.joined(separator: ", ")
      return "\(at(ctx.mark)): duplicate key(s) \(keys)"
    case .dataCouldNotBeDecoded:
      return "the text is not UTF-8"
    default:
      return "unreadable document"
    }
  }
}
