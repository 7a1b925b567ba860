// Tree -> typed configuration. This step only checks shapes and syntax (is it a list, a number,
// a duration); ranges and cross-field rules live in `ConfigValidator` so that configurations
// built in code get them too.

/// Reads a `ConfigNode` tree into an `AugmenterConfig`.
struct ConfigDecoder {
  var collector: ProblemCollector
  /// Key paths whose value could not be read (the default stands in); the validator skips rules
  /// about them so one mistake is reported once.
  var failed: Set<String> = []
  /// The index in the file of each decoded rule (rules that could not be read are left out).
  var ruleSourceIndices: [Int] = []

  init(collector: ProblemCollector) {
    self.collector = collector
  }

  mutating func fail(_ keyPath: String, _ message: String) {
    failed.insert(keyPath)
    collector.report(keyPath, message)
  }

  mutating func decode(_ root: ConfigNode) -> AugmenterConfig {
    var config = AugmenterConfig.defaults
    switch root {
    case .null:
      return config
    case .mapping:
      read(root, "", AugmenterConfig.fields, into: &config)
    default:
      collector.report("", "expected a mapping of settings at the top level, got \(root.kind)")
    }
    return config
  }

  // MARK: - Sections

  /// The entries of a mapping with known keys; unknown keys are reported and dropped.
  mutating func section(_ node: ConfigNode, _ path: String, known: [String]) -> [ConfigEntry] {
    switch node {
    case .null:
      return []
    case .mapping(let entries):
      return entries.filter { entry in
        if known.contains(entry.key) { return true }
        collector.report(joinKeyPath(path, entry.key), KeySuggestion.unknownKeyMessage(entry.key, known: known))
        return false
      }
    default:
      fail(path, "expected a mapping with keys \(known.joined(separator: ", ")), got \(node.kind)")
      return []
    }
  }

  mutating func providers(_ node: ConfigNode, _ path: String) -> [ProviderConfig] {
    switch node {
    case .null:
      return []
    case .sequence(let elements):
      return elements.enumerated().map { index, element in provider(element, "\(path)[\(index)]") }
    default:
      fail(path, "expected a list of providers (each with at least name and url), got \(node.kind)")
      return []
    }
  }

  private mutating func provider(_ node: ConfigNode, _ path: String) -> ProviderConfig {
    var provider = ProviderConfig.configDefaults
    guard case .mapping = node else {
      fail(path, "expected a provider mapping with at least name and url, got \(node.kind)")
      // Its fields are not there to check: report the entry once.
      failed.formUnion(ProviderConfig.fields.names.map { "\(path).\($0)" })
      return provider
    }
    let entries = read(node, path, ProviderConfig.fields, into: &provider)
    // The keys other kinds require are checked by the validator, on the typed configuration.
    let required = provider.kind == .http ? ["name", "url"] : ["name"]
    for key in required where !entries.contains(where: { $0.key == key }) {
      fail("\(path).\(key)", "missing; every provider needs a name and a url")
    }
    return provider
  }

  /// A file provider's `files`: `header: path` or `header: {path, format}`.
  mutating func providerFiles(_ node: ConfigNode, _ path: String) -> [ProviderFile] {
    guard case .mapping(let entries) = node else {
      if case .null = node { return [] }
      fail(path, "expected a mapping of header names to files, got \(node.kind)")
      return []
    }
    var files: [ProviderFile] = []
    for entry in entries {
      let keyPath = joinKeyPath(path, entry.key)
      if case .scalar(let file) = entry.value {
        files.append(ProviderFile(name: entry.key, path: file))
        continue
      }
      var file = ProviderFile(name: entry.key, path: "")
      guard case .mapping = entry.value else {
        fail(keyPath, "expected a path, or a mapping with path and format; got \(entry.value.kind)")
        continue
      }
      // A missing path stays empty; the validator reports it.
      read(entry.value, keyPath, ProviderFile.fields, into: &file)
      file.name = entry.key
      files.append(file)
    }
    return files
  }

  /// A listener's `tls` mapping; `nil` for `null` (plaintext) or a mapping that cannot be read.
  mutating func listenerTLS(_ node: ConfigNode, _ path: String) -> ListenerTLSConfig? {
    if case .null = node { return nil }
    var tls = ListenerTLSConfig.configDefaults
    let entries = read(node, path, ListenerTLSConfig.fields, into: &tls)
    guard case .mapping = node else { return nil }
    for key in ["cert", "key"] where !entries.contains(where: { $0.key == key }) {
      fail("\(path).\(key)", "missing; TLS needs a certificate (cert) and its private key (key)")
    }
    return tls
  }

  /// A provider's `tls` mapping.
  mutating func providerTLS(_ node: ConfigNode, _ path: String) -> ProviderTLSConfig? {
    if case .null = node { return nil }
    var tls = ProviderTLSConfig.configDefaults
    read(node, path, ProviderTLSConfig.fields, into: &tls)
    guard case .mapping = node else { return nil }
    return tls
  }

  // MARK: - Scalars

  /// The scalar's text; `nil` (and a problem, unless `nullable`) for anything else.
  mutating func string(_ node: ConfigNode, _ path: String, nullable: Bool = false) -> String? {
    switch node {
    case .scalar(let text):
      return text
    case .null:
      if !nullable { fail(path, "the value is missing") }
      return nil
    default:
      fail(path, "expected a single value, got \(node.kind)")
      return nil
    }
  }

  mutating func listenAddress(_ node: ConfigNode, _ path: String) -> ListenAddress? {
    if case .sequence = node {
      // `listen: [::1]:9191` unquoted is YAML flow syntax, not an address.
      fail(path, "expected host:port, got a list; quote IPv6 addresses: \"[::1]:9191\"")
      return nil
    }
    guard let text = string(node, path) else { return nil }
    switch ListenAddress.parse(text) {
    case .success(let address):
      return address
    case .failure(let error):
      fail(path, error.message)
      return nil
    }
  }

  mutating func duration(_ node: ConfigNode, _ path: String) -> Duration? {
    guard let text = string(node, path) else { return nil }
    switch DurationText.parse(text) {
    case .success(let duration):
      return duration
    case .failure(let error):
      fail(path, error.message)
      return nil
    }
  }

  mutating func integer(_ node: ConfigNode, _ path: String) -> Int? {
    guard let text = string(node, path) else { return nil }
    guard let value = Self.withoutDigitSeparators(text).flatMap({ Int($0) }) else {
      fail(path, "expected a whole number, got \"\(text)\"")
      return nil
    }
    return value
  }

  /// A number's text without surrounding spaces and without `_` digit separators
  /// (`4_194_304`, `2.5_0`), as YAML 1.1 and Swift allow; `nil` when it starts with `_`. One rule
  /// for every numeric key, whole or not.
  static func withoutDigitSeparators(_ text: String) -> String? {
    let trimmed = text.trimmingSpaces()
    guard !trimmed.hasPrefix("_") else { return nil }
    return trimmed.filter { $0 != "_" }
  }

  mutating func boolean(_ node: ConfigNode, _ path: String) -> Bool? {
    guard let text = string(node, path) else { return nil }
    switch text.trimmingSpaces().lowercased() {
    case "true": return true
    case "false": return false
    default:
      fail(path, "expected true or false, got \"\(text)\"")
      return nil
    }
  }
}
