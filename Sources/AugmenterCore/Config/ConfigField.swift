// One declaration per configuration key.
//
// A mapping of the configuration (the top level, `http2`, a provider, a rule's `match`, ...) is a
// `ConfigFields` table. Each entry names its key, says what it holds and means, and reads it. The
// decoder knows a key only through its table, so a key cannot be accepted and then ignored; the
// unknown-key check and its "did you mean", the environment overlay and `docs/configuration.md`
// are all derived from the same tables.

/// What the configuration reference says of one key, and how the environment may set it.
public struct ConfigKeyDoc: Sendable, Hashable {
  /// How a key's value is shaped, for the environment overlay and the reference's layout.
  public enum Shape: Sendable, Hashable {
    /// One value (a number, duration, name...): one environment variable can set it.
    case scalar
    /// A mapping with the keys in `children`.
    case mapping
    /// A list of mappings, each with the keys in `children`.
    case list
    /// A mapping whose keys are names the user chooses (header names, statuses, profile names);
    /// `children` describe the value of each entry, when it is a mapping.
    case namedEntries
  }

  /// The key as written in the file.
  public var name: String
  /// What the value is: "duration", "integer", "one of allow, deny"...
  public var type: String
  /// The default as it would be written in YAML; `nil` when there is none (required, or unset).
  public var defaultValue: String?
  /// What the key does, in one or two sentences.
  public var summary: String
  /// A valid value other than the default (scalars): shown in the reference, and used by the
  /// test that walks every key through the file, the environment and validation.
  public var example: String?
  /// The value's shape.
  public var shape: Shape
  /// Whether the environment sets it: a scalar by one variable (`AUGMENTER_<KEY>`); a mapping
  /// key by key (`AUGMENTER_<KEY>__<SUBKEY>`), for those of its keys that are scalars.
  public var fromEnvironment: Bool
  /// The keys inside (mappings, lists, named entries).
  public var children: [ConfigKeyDoc]
  /// Whether a reload applies a change of the key (`false`: it is read once at start, e.g. by a
  /// bound socket, and a reload reports that the change waits for a restart).
  public var live: Bool = true

  /// A single value that one environment variable sets.
  var isEnvironmentScalar: Bool { self.shape == .scalar && self.fromEnvironment }
}

/// One key of a configuration mapping read into `Target`.
struct ConfigField<Target>: Sendable {
  /// What the reference says of the key.
  var doc: ConfigKeyDoc
  /// Reads the key's value (at key path `path`) into the target, reporting problems.
  let read: @Sendable (inout ConfigDecoder, ConfigNode, _ path: String, inout Target) -> Void
  /// Of two configurations, the key paths at or under this key (at `path`) whose values differ
  /// and need a restart to apply; none for a key a reload applies.
  var restartChanges: @Sendable (_ old: Target, _ new: Target, _ path: String) -> [String] = { _, _, _ in [] }

  /// The key as written in the file.
  var name: String { self.doc.name }
}

/// The keys of one configuration mapping, in the order the reference lists them.
struct ConfigFields<Target>: Sendable {
  /// Every key of the mapping.
  let fields: [ConfigField<Target>]

  init(_ fields: [ConfigField<Target>]) {
    self.fields = fields
  }

  /// The known key names (unknown-key check and suggestions).
  var names: [String] { self.fields.map(\.name) }

  /// The reference entries of the keys.
  var docs: [ConfigKeyDoc] { self.fields.map(\.doc) }

  /// The field for `name`, if the mapping has that key.
  func field(_ name: String) -> ConfigField<Target>? {
    self.fields.first { $0.name == name }
  }

  /// Of two configurations, the key paths under `path` whose change needs a restart.
  func restartChanges(from old: Target, to new: Target, path: String = "") -> [String] {
    self.fields.flatMap { $0.restartChanges(old, new, joinKeyPath(path, $0.name)) }
  }
}

/// A configuration type whose defaults the reference shows (each field reads its default from
/// here, so a default is written once: in the type's initialiser).
protocol ConfigDefaults: SendableMetatype {
  /// The value with every setting at its default (required settings empty).
  static var configDefaults: Self { get }
}

/// A key path's text: `parent.key`, or `key` at the top level. An empty key is written `""`, so
/// that its problems never carry the empty key path of whole-document problems.
func joinKeyPath(_ parent: String, _ key: String) -> String {
  let key = key.isEmpty ? "\"\"" : key
  return parent.isEmpty ? key : "\(parent).\(key)"
}

// MARK: - Building fields

extension ConfigField {
  /// A key with a custom reader.
  init(
    _ name: String,
    type: String,
    default defaultValue: String? = nil,
    example: String? = nil,
    shape: ConfigKeyDoc.Shape = .scalar,
    environment: Bool? = nil,
    children: [ConfigKeyDoc] = [],
    _ summary: String,
    read: @escaping @Sendable (inout ConfigDecoder, ConfigNode, String, inout Target) -> Void
  ) {
    self.doc = ConfigKeyDoc(
      name: name, type: type, defaultValue: defaultValue, summary: summary, example: example, shape: shape,
      fromEnvironment: environment ?? (shape == .scalar), children: children)
    self.read = read
  }

  /// This key, read once at start: a reload that changes the value at `keyPath` reports the key
  /// as needing a restart instead of applying it (`ConfigKeyDoc.live`).
  func restartRequired<Value: Equatable>(_ keyPath: any KeyPath<Target, Value> & Sendable) -> ConfigField {
    var field = self
    field.doc.live = false
    field.restartChanges = { old, new, path in old[keyPath: keyPath] == new[keyPath: keyPath] ? [] : [path] }
    return field
  }
}

extension ConfigField where Target: ConfigDefaults {
  /// A duration (`250ms`, `30s`, `6m`, `1h`).
  static func duration(
    _ name: String, _ keyPath: any WritableKeyPath<Target, Duration> & Sendable, example: String, _ summary: String
  ) -> ConfigField {
    let value = Target.configDefaults[keyPath: keyPath]
    return ConfigField(name, type: "duration", default: DurationText.format(value), example: example, summary) {
      decoder, node, path, target in
      if let value = decoder.duration(node, path) { target[keyPath: keyPath] = value }
    }
  }

  /// A whole number.
  static func integer(
    _ name: String, _ keyPath: any WritableKeyPath<Target, Int> & Sendable, example: String, _ summary: String
  ) -> ConfigField {
    let value = Target.configDefaults[keyPath: keyPath]
    return ConfigField(name, type: "integer", default: String(value), example: example, summary) {
      decoder, node, path, target in
      if let value = decoder.integer(node, path) { target[keyPath: keyPath] = value }
    }
  }

  /// A whole number that may be left out (then unset: `defaultText` says what applies instead).
  static func optionalInteger(
    _ name: String, _ keyPath: any WritableKeyPath<Target, Int?> & Sendable, default defaultText: String,
    example: String, _ summary: String
  ) -> ConfigField {
    ConfigField(name, type: "integer", default: defaultText, example: example, summary) { decoder, node, path, target in
      if let value = decoder.integer(node, path) { target[keyPath: keyPath] = value }
    }
  }

  /// `true` or `false` (YAML's spellings).
  static func boolean(
    _ name: String, _ keyPath: any WritableKeyPath<Target, Bool> & Sendable, _ summary: String
  ) -> ConfigField {
    let value = Target.configDefaults[keyPath: keyPath]
    return ConfigField(name, type: "boolean", default: String(value), example: String(!value), summary) {
      decoder, node, path, target in
      if let value = decoder.boolean(node, path) { target[keyPath: keyPath] = value }
    }
  }

  /// A text value that must be present; an empty default is shown as none (a required key).
  static func text(
    _ name: String, _ keyPath: any WritableKeyPath<Target, String> & Sendable, type: String = "string", example: String,
    _ summary: String
  ) -> ConfigField {
    let value = Target.configDefaults[keyPath: keyPath]
    return ConfigField(name, type: type, default: value.isEmpty ? nil : value, example: example, summary) {
      decoder, node, path, target in
      if let text = decoder.string(node, path) { target[keyPath: keyPath] = text }
    }
  }

  /// A text value that may be left out or `null` (then unset).
  static func optionalText(
    _ name: String, _ keyPath: any WritableKeyPath<Target, String?> & Sendable, type: String = "string",
    example: String, _ summary: String
  ) -> ConfigField {
    ConfigField(name, type: type, example: example, summary) { decoder, node, path, target in
      if let text = decoder.string(node, path, nullable: true) { target[keyPath: keyPath] = text }
    }
  }

  /// One of a fixed set of names, given by a `RawRepresentable` enum.
  static func choice<Value: RawRepresentable & CaseIterable & Sendable>(
    _ name: String, _ keyPath: any WritableKeyPath<Target, Value> & Sendable, example: Value, _ summary: String
  ) -> ConfigField where Value.RawValue == String {
    let value = Target.configDefaults[keyPath: keyPath]
    let names = Value.allCases.map(\.rawValue)
    return ConfigField(
      name, type: "one of \(names.joined(separator: ", "))", default: value.rawValue, example: example.rawValue,
      summary
    ) { decoder, node, path, target in
      if let value = decoder.choice(node, path, Value.self) { target[keyPath: keyPath] = value }
    }
  }

  /// A mapping read into the same target through its own table (e.g. `http2` into
  /// `AugmenterConfig`'s `http2...` properties).
  static func section(_ name: String, _ fields: ConfigFields<Target>, _ summary: String) -> ConfigField {
    var field = ConfigField(name, type: "mapping", shape: .mapping, environment: true, children: fields.docs, summary) {
      decoder, node, path, target in
      decoder.read(node, path, fields, into: &target)
    }
    // Its keys read into the same target, so their restart rules apply under this key's path.
    field.restartChanges = { old, new, path in fields.restartChanges(from: old, to: new, path: path) }
    return field
  }
}

// MARK: - Reading through a table

extension ConfigDecoder {
  /// Reads every key of mapping `node` through `fields` into `target`; unknown keys are reported
  /// with a suggestion and skipped. Returns the entries with known keys (for presence checks).
  @discardableResult
  mutating func read<Target>(
    _ node: ConfigNode, _ path: String, _ fields: ConfigFields<Target>, into target: inout Target
  ) -> [ConfigEntry] {
    let entries = self.section(node, path, known: fields.names)
    for entry in entries {
      // `section` returns known keys only.
      guard let field = fields.field(entry.key) else { continue }
      field.read(&self, entry.value, joinKeyPath(path, entry.key), &target)
    }
    return entries
  }

  /// One of the raw values of `Value`, compared case-insensitively.
  mutating func choice<Value: RawRepresentable & CaseIterable>(
    _ node: ConfigNode, _ path: String, _ type: Value.Type
  ) -> Value? where Value.RawValue == String {
    guard let text = self.string(node, path) else { return nil }
    if let value = Value(rawValue: text.lowercased()) { return value }
    let names = Value.allCases.map(\.rawValue)
    let expected =
      names.count == 2 ? "\(names[0]) or \(names[1])" : names.dropLast().joined(separator: ", ") + " or \(names.last!)"
    self.fail(path, "expected \(expected), got \"\(text)\"")
    return nil
  }
}
