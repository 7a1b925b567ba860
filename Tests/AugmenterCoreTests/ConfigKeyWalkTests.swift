// Every declared configuration key, walked through the file, the environment and validation:
// a key that is declared but not read (or read into nothing) fails here, as does a reference
// (docs/configuration.md) that no longer matches the declarations.

import Foundation
import Testing

@testable import AugmenterCore

/// One key to walk: the chain of declarations from the top level down to it.
struct DeclaredKey: CustomTestStringConvertible, Sendable {
  var chain: [ConfigKeyDoc]
  var leaf: ConfigKeyDoc { chain[chain.count - 1] }

  /// The key path problems are reported at (`providers[0].ttl`, `profiles.429.headers.429.action`).
  var keyPath: String {
    var path = ""
    for (index, doc) in chain.enumerated() {
      path = joinKeyPath(path, doc.name)
      if index < chain.count - 1 {
        switch doc.shape {
        case .list: path += "[0]"
        case .namedEntries: path = joinKeyPath(path, DeclaredKey.entryName)
        case .scalar, .mapping: break
        }
      }
    }
    return path
  }

  var testDescription: String { keyPath }

  /// The name used for entries of named mappings (a valid status, header and profile name).
  static let entryName = "429"

  /// Every leaf key (no keys inside) of the declarations.
  static var all: [DeclaredKey] {
    var keys: [DeclaredKey] = []
    func walk(_ docs: [ConfigKeyDoc], _ chain: [ConfigKeyDoc]) {
      for doc in docs {
        if doc.children.isEmpty {
          keys.append(DeclaredKey(chain: chain + [doc]))
        } else {
          walk(doc.children, chain + [doc])
        }
      }
    }
    walk(ConfigReference.keys, [])
    return keys
  }
}

@Suite("Every declared key is read, overridable where declared so, and documented")
struct ConfigKeyWalkTests {
  /// A readable file for keys that name one (validation checks they exist).
  static let existingFile: String = {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("augmenter-keywalk-\(getpid()).pem")
    FileManager.default.createFile(atPath: url.path, contents: Data("not checked here\n".utf8))
    return url.path
  }()

  /// What the configuration holds besides the walked key: a provider and a profile that
  /// examples may name.
  static let base: [ConfigEntry] = [
    ConfigEntry(
      key: "providers",
      value: .sequence([
        .mapping([
          ConfigEntry(key: "name", value: .scalar("tokens")),
          ConfigEntry(key: "url", value: .scalar("https://127.0.0.1:1/headers")),
        ])
      ])),
    ConfigEntry(key: "profiles", value: .mapping([ConfigEntry(key: "partners", value: .mapping([]))])),
  ]

  /// Keys a mapping needs beside the walked one, by the mapping's key path.
  static func companions(of parentPath: String, walking key: String) -> [ConfigEntry] {
    func scalar(_ name: String, _ value: String) -> ConfigEntry { ConfigEntry(key: name, value: .scalar(value)) }
    switch parentPath {
    case "tls", "admin_tls":
      var entries = [scalar("cert", existingFile), scalar("key", existingFile)]
      if key == "require_client_cert" { entries.append(scalar("client_ca", existingFile)) }
      return entries.filter { $0.key != key }
    case "client_address":
      return [scalar("from", "header"), scalar("header", "x-forwarded-for")].filter { $0.key != key }
    case "rules[0]":
      return ConfigSchema.outcomes.contains(key) ? [] : [ConfigEntry(key: "allow", value: .mapping([]))]
    case let path where path.hasSuffix(".redirect"):
      return key == "location" ? [] : [scalar("location", "/elsewhere")]
    case let path where path.hasSuffix(".rate_limit"):
      return key == "requests_per_second" ? [] : [scalar("requests_per_second", "5")]
    case let path where path.hasSuffix("headers.\(DeclaredKey.entryName)"):
      return key == "action" ? [scalar("value", "v")] : []
    case "providers[0]":
      // Keys of another provider kind are refused on the default kind: walk them on their own.
      if ["files", "watch_interval"].contains(key) { return [scalar("kind", "file")] }
      if ["private_key_file", "signing_alg", "key_id"].contains(key) {
        return [scalar("kind", "oauth2_client_credentials"), scalar("client_auth", "private_key_jwt")]
      }
      if ["subject_token_file", "subject_token_type", "requested_token_type"].contains(key) { return [scalar("kind", "token_exchange")] }
      let oauth2 = [
        "token_url", "client_id", "client_secret_file", "client_auth", "scope", "audience", "resource", "header", "format", "token_type",
      ]
      return oauth2.contains(key) ? [scalar("kind", "oauth2_client_credentials")] : []
    default:
      return []
    }
  }

  /// The walked key's value: its example, or a readable file for path keys.
  static func value(of key: DeclaredKey) throws -> ConfigNode {
    if key.leaf.type == "path" { return .scalar(existingFile) }
    let example = try #require(key.leaf.example, "\(key.keyPath) declares no example")
    return try ConfigNode.parse(example).get()
  }

  /// The document with `value` set at `key` (and the companions of each mapping on the way).
  static func document(setting key: DeclaredKey, to value: ConfigNode) -> ConfigNode {
    func set(_ chain: ArraySlice<ConfigKeyDoc>, in node: ConfigNode, parentPath: String) -> ConfigNode {
      guard let doc = chain.first else { return value }
      var entries = node.entries ?? []
      let path = joinKeyPath(parentPath, doc.name)
      let existing = entries.first { $0.key == doc.name }?.value ?? .null
      let child: ConfigNode
      if chain.count == 1 {
        child = value
      } else {
        switch doc.shape {
        case .list:
          var elements = existing.sequenceElements
          let first = elements.first ?? .mapping([])
          let inner = set(chain.dropFirst(), in: first, parentPath: "\(path)[0]")
          if elements.isEmpty { elements = [inner] } else { elements[0] = inner }
          child = .sequence(elements)
        case .namedEntries:
          let entryPath = joinKeyPath(path, DeclaredKey.entryName)
          var named = existing.entries ?? []
          let inner = set(
            chain.dropFirst(), in: named.first { $0.key == DeclaredKey.entryName }?.value ?? .mapping([]), parentPath: entryPath)
          named.removeAll { $0.key == DeclaredKey.entryName }
          named.append(ConfigEntry(key: DeclaredKey.entryName, value: inner))
          child = .mapping(named)
        case .scalar, .mapping:
          child = set(chain.dropFirst(), in: existing.entries == nil ? .mapping([]) : existing, parentPath: path)
        }
      }
      entries.removeAll { $0.key == doc.name }
      entries.append(ConfigEntry(key: doc.name, value: child))
      for companion in companions(of: parentPath, walking: doc.name) where !entries.contains(where: { $0.key == companion.key }) {
        entries.append(companion)
      }
      return .mapping(entries)
    }
    return set(key.chain[...], in: .mapping(base), parentPath: "")
  }

  /// Decodes `root` after laying `environment` over it: the configuration and every problem.
  static func decode(_ root: ConfigNode, environment: [String: String] = [:]) -> (AugmenterConfig, [ConfigProblem]) {
    var root = root
    var collector = ProblemCollector()
    ConfigLoader.applyEnvironment(environment, to: &root, collector: &collector)
    var decoder = ConfigDecoder(collector: collector)
    let config = decoder.decode(root)
    return (config, decoder.collector.problems)
  }

  /// The environment variable that sets `key`, if the declarations say one does.
  static func environmentVariable(for key: DeclaredKey) -> String? {
    guard key.leaf.isEnvironmentScalar else { return nil }
    let names = key.chain.map { $0.name.uppercased() }
    switch key.chain.count {
    case 1:
      return "AUGMENTER_\(names[0])"
    case 2 where key.chain[0].shape == .mapping && key.chain[0].fromEnvironment:
      return "AUGMENTER_\(names[0])__\(names[1])"
    case 2 where key.chain[0].name == "providers":
      return "AUGMENTER_PROVIDERS__0__\(names[1])"
    case 3 where key.chain[0].name == "providers" && key.chain[1].fromEnvironment:
      return "AUGMENTER_PROVIDERS__0__\(names[1])__\(names[2])"
    default:
      return nil
    }
  }

  @Test("the walk covers the declarations")
  func walkCoversEveryKey() {
    let paths = DeclaredKey.all.map(\.keyPath)
    #expect(paths.count > 80, "\(paths.count) keys: \(paths)")
    for expected in [
      "drain_delay", "http2.idle_timeout", "providers[0].follow_redirects", "rules[0].match.peer_identity",
      "rules[0].rate_limit.max_keys", "profiles.429.headers.429.action", "tls.reload_interval", "providers[0].tls.ca",
    ] {
      #expect(paths.contains(expected), "\(expected) not walked")
    }
  }

  @Test("each key set in the file is read into the configuration and passes validation", arguments: DeclaredKey.all)
  func fileSetsTheKey(key: DeclaredKey) throws {
    if key.keyPath == "default.rate_limit" {
      // Declared so that it is reported precisely rather than as an unknown key.
      let (_, problems) = Self.decode(
        Self.document(setting: key, to: .mapping([ConfigEntry(key: "requests_per_second", value: .scalar("1"))])))
      #expect(problems.contains { $0.keyPath == "default.rate_limit" && $0.message.contains("cannot be a rate limit") }, "\(problems)")
      return
    }
    let value = try Self.value(of: key)
    let withKey = Self.document(setting: key, to: value)
    let (config, problems) = Self.decode(withKey)
    #expect(problems.isEmpty, "\(key.keyPath): \(problems)")
    // Without the key (its companions kept), the configuration must come out different.
    let withoutKey = Self.document(setting: key, to: .null)
    let (baseline, _) = Self.decode(Self.removing(key, from: withoutKey))
    #expect(config != baseline, "\(key.keyPath) = \(value) changed nothing: the key is declared but not read")
    let invalid = ConfigLoader.validate(config).filter { $0.keyPath == key.keyPath || $0.keyPath.hasPrefix("\(key.keyPath).") }
    #expect(invalid.isEmpty, "\(key.keyPath): its example does not validate: \(invalid)")
  }

  @Test(
    "each key the environment may set is set by its variable", arguments: DeclaredKey.all.filter { environmentVariable(for: $0) != nil })
  func environmentSetsTheKey(key: DeclaredKey) throws {
    let variable = try #require(Self.environmentVariable(for: key))
    let text: String
    if case .scalar(let scalar) = try Self.value(of: key) { text = scalar } else { text = try #require(key.leaf.example) }
    let document = Self.removing(key, from: Self.document(setting: key, to: .null))
    let (config, problems) = Self.decode(document, environment: [variable: text])
    #expect(problems.isEmpty, "\(variable)=\(text): \(problems)")
    let (baseline, _) = Self.decode(document)
    #expect(config != baseline, "\(variable)=\(text) changed nothing")
  }

  @Test("every leaf key but default.rate_limit declares an example (the reference shows it, this walk uses it)")
  func examplesAreDeclared() {
    let missing = DeclaredKey.all.filter { $0.leaf.example == nil && $0.leaf.type != "path" }.map(\.keyPath)
    #expect(missing == ["default.rate_limit"], "\(missing)")
  }

  @Test("docs/configuration.md is what `augmenter config-reference` prints")
  func referenceIsCurrent() throws {
    let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent().appendingPathComponent("docs/configuration.md")
    let committed = try String(contentsOf: url, encoding: .utf8)
    #expect(
      committed == ConfigReference.markdown(),
      "docs/configuration.md is stale: run `swift run augmenter config-reference > docs/configuration.md`")
  }

  /// `document` with the walked key's own entry removed (its parents and companions stay).
  static func removing(_ key: DeclaredKey, from document: ConfigNode) -> ConfigNode {
    func remove(_ chain: ArraySlice<ConfigKeyDoc>, in node: ConfigNode) -> ConfigNode {
      guard let doc = chain.first, var entries = node.entries else { return node }
      if chain.count == 1 {
        entries.removeAll { $0.key == doc.name }
        return .mapping(entries)
      }
      guard let index = entries.firstIndex(where: { $0.key == doc.name }) else { return node }
      switch (doc.shape, entries[index].value) {
      case (.list, .sequence(var elements)) where !elements.isEmpty:
        elements[0] = remove(chain.dropFirst(), in: elements[0])
        entries[index].value = .sequence(elements)
      case (.namedEntries, .mapping(var named)):
        if let entry = named.firstIndex(where: { $0.key == DeclaredKey.entryName }) {
          named[entry].value = remove(chain.dropFirst(), in: named[entry].value)
        }
        entries[index].value = .mapping(named)
      default:
        entries[index].value = remove(chain.dropFirst(), in: entries[index].value)
      }
      return .mapping(entries)
    }
    return remove(key.chain[...], in: document)
  }
}

extension ConfigNode {
  fileprivate var sequenceElements: [ConfigNode] {
    if case .sequence(let elements) = self { return elements }
    return []
  }
}
