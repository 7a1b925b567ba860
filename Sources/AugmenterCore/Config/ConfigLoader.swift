// Configuration loading: text -> tree -> (seed format converted) -> environment laid over ->
// typed -> validated. Every step adds to one problem list; nothing stops at the first problem.

import Foundation

/// Reads, overrides and validates the configuration (DESIGN.md, "Stable interface").
public enum ConfigLoader {
  /// Parses YAML or JSON text, applies environment overrides, validates; collects every problem.
  ///
  /// An empty document (or `null`) means the built-in defaults. A document holding only the
  /// seed filter's keys (`header_providing_service_cluster`, ...) is read as one provider.
  /// Environment variables named `AUGMENTER_` + the key path in upper case, segments joined by
  /// `__` (`AUGMENTER_PROVIDERS__0__URL`, `AUGMENTER_HEADERS__X_STATIC`), override the file's
  /// values before validation; variables whose first segment is not a known key are ignored,
  /// since orchestrators set others with the same prefix (Kubernetes service links:
  /// `AUGMENTER_PORT`, `AUGMENTER_SERVICE_HOST`).
  public static func parse(_ text: String, environment: [String: String]) throws(ConfigError) -> AugmenterConfig {
    switch ConfigNode.parse(text) {
    case .success(let root):
      return try build(from: root, environment: environment)
    case .failure(let error):
      throw error
    }
  }

  /// Reads the file at `path` and parses it like `parse(_:environment:)`.
  ///
  /// A file that cannot be read is one problem whose key path is the file's path.
  public static func load(path: String, environment: [String: String]) throws(ConfigError) -> AugmenterConfig {
    var isDirectory: ObjCBool = false
    if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
      // Foundation's error for this case is an opaque "error 256".
      throw ConfigError(problems: [ConfigProblem(keyPath: path, message: "cannot read the file: it is a directory")])
    }
    let data: Data
    do {
      data = try Data(contentsOf: URL(fileURLWithPath: path))
    } catch {
      throw ConfigError(problems: [ConfigProblem(keyPath: path, message: "cannot read the file: \(readFailureReason(error))")])
    }
    guard let text = String(data: data, encoding: .utf8) else {
      throw ConfigError(problems: [ConfigProblem(keyPath: path, message: "the file is not UTF-8 text")])
    }
    return try parse(text, environment: environment)
  }

  /// Built-in defaults with environment overrides (for `serve` without `--config`).
  public static func defaults(environment: [String: String]) throws(ConfigError) -> AugmenterConfig {
    try build(from: .null, environment: environment)
  }

  /// Every rule a configuration built in code breaks (ranges, names, URLs, header rules, ttl
  /// versus timeout), with key paths as if it had been read from a file. Empty when valid.
  public static func validate(_ config: AugmenterConfig) -> [ConfigProblem] {
    var validator = ConfigValidator(collector: ProblemCollector(), failed: [])
    validator.validate(config)
    return validator.collector.problems
  }

  // MARK: - Pipeline

  static func build(from root: ConfigNode, environment: [String: String]) throws(ConfigError) -> AugmenterConfig {
    var collector = ProblemCollector()
    var root = root
    if let entries = root.entries, entries.contains(where: { ConfigSchema.seed.contains($0.key) }) {
      guard let converted = convertSeed(entries, collector: &collector) else {
        throw ConfigError(problems: collector.problems)
      }
      root = converted
    }
    applyEnvironment(environment, to: &root, collector: &collector)

    var decoder = ConfigDecoder(collector: collector)
    var config = decoder.decode(root)
    var validator = ConfigValidator(
      collector: decoder.collector, failed: decoder.failed, ruleSourceIndices: decoder.ruleSourceIndices)
    validator.validate(config)
    if !validator.collector.problems.isEmpty {
      throw ConfigError(problems: validator.collector.problems)
    }
    // Names were kept as written so problems could quote them; from here on they are canonical.
    config.headers = config.headers.map { HeaderField(name: $0.name.lowercased(), value: HeaderRules.trimmed($0.value)) }
    canonicalizePolicy(&config)
    return config
  }

  /// Lower-cases the header names of the policy keys and trims literal values, as for `headers`.
  static func canonicalizePolicy(_ config: inout AugmenterConfig) {
    func canonical(_ rules: [HeaderRule]) -> [HeaderRule] {
      rules.map { rule in
        var rule = rule
        rule.name = rule.name.lowercased()
        if case .literal(let text) = rule.value { rule.value = .literal(HeaderRules.trimmed(text)) }
        return rule
      }
    }
    func canonical(_ outcome: RuleOutcome) -> RuleOutcome {
      switch outcome {
      case .allow(var allow):
        allow.headers = canonical(allow.headers)
        return .allow(allow)
      case .deny(var deny):
        deny.headers = canonical(deny.headers)
        return .deny(deny)
      case .redirect, .rateLimit:
        return outcome
      }
    }
    config.headerRules = canonical(config.headerRules)
    for index in config.providers.indices {
      config.providers[index].headerActions = Dictionary(
        config.providers[index].headerActions.map { ($0.key.lowercased(), $0.value) }, uniquingKeysWith: { _, last in last })
    }
    for index in config.profiles.indices {
      config.profiles[index].headers = canonical(config.profiles[index].headers)
    }
    for index in config.rules.indices {
      config.rules[index].outcome = canonical(config.rules[index].outcome)
    }
    config.defaultOutcome = config.defaultOutcome.map(canonical)
  }

  /// Foundation's message for a failed read, which names the cause ("no such file", "permission").
  private static func readFailureReason(_ error: any Error) -> String {
    (error as NSError).localizedDescription
  }

  // MARK: - Seed format

  /// Converts the seed filter's four keys into one provider, or returns `nil` after reporting
  /// why the document cannot be read (mixed formats).
  static func convertSeed(_ entries: [ConfigEntry], collector: inout ProblemCollector) -> ConfigNode? {
    let standardKeys = entries.map(\.key).filter { ConfigSchema.topLevel.contains($0) }
    if !standardKeys.isEmpty {
      collector.report(
        "",
        "mixes the seed filter's keys with Augmenter keys (\(standardKeys.joined(separator: ", "))). Use one format: "
          + "either only \(ConfigSchema.seed.joined(separator: ", ")) (read as one provider), "
          + "or Augmenter's format with a providers list (listen, providers, headers, on_unavailable, ...)")
      return nil
    }
    var text: [String: String] = [:]
    var valid = true
    for entry in entries {
      guard ConfigSchema.seed.contains(entry.key) else {
        collector.report(entry.key, KeySuggestion.unknownKeyMessage(entry.key, known: ConfigSchema.seed))
        valid = false
        continue
      }
      switch entry.value {
      case .scalar(let value): text[entry.key] = value
      case .null: break
      default:
        collector.report(entry.key, "expected a single value, got \(entry.value.kind)")
        valid = false
      }
    }

    let cluster = text[ConfigSchema.seedCluster] ?? "sidecar"
    let authority = text[ConfigSchema.seedAuthority] ?? "sidecar"
    let path = text[ConfigSchema.seedPath] ?? "/headers"
    let expiry = text[ConfigSchema.seedExpiry] ?? "360s"

    // The cluster is read as host[:port], port 80 when absent (as the filter's HTTP call did).
    var hostPort: ListenAddress?
    let withPort = cluster.hasSuffix("]") || !cluster.contains(":") ? "\(cluster):80" : cluster
    switch ListenAddress.parse(withPort) {
    case .success(let address) where address.port != 0:
      hostPort = address
    default:
      collector.report(ConfigSchema.seedCluster, "expected host[:port] like sidecar or sidecar:8080, got \"\(cluster)\"")
      valid = false
    }
    if !path.hasPrefix("/") || path.contains(where: { $0 == " " || $0.isNewline }) {
      collector.report(ConfigSchema.seedPath, "expected an absolute path like /headers")
      valid = false
    }
    var ttl: Duration?
    switch DurationText.parse(expiry) {
    case .success(let value) where value > .zero:
      ttl = value
    case .success:
      collector.report(ConfigSchema.seedExpiry, "must be longer than 0s")
      valid = false
    case .failure(let error):
      collector.report(ConfigSchema.seedExpiry, error.message)
      valid = false
    }
    guard valid, let hostPort, let ttl else { return nil }

    // A provider name must be [a-z0-9_-]+; a cluster host like sidecar.ns.svc is not, so it is
    // folded into that alphabet.
    let name = String(
      hostPort.host.lowercased().map { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") ? $0 : "-" })
    // The filter had no separate timeout; keep the default 2s unless the expiry is so short that
    // the fetch could outlast it.
    let timeout = min(ProviderConfig.defaultTimeout, ttl / 2)
    let provider: [ConfigEntry] = [
      ConfigEntry(key: "name", value: .scalar(name)),
      ConfigEntry(key: "url", value: .scalar("http://\(hostPort)\(path)")),
      ConfigEntry(key: "authority", value: .scalar(authority)),
      ConfigEntry(key: "ttl", value: .scalar(DurationText.format(ttl))),
      ConfigEntry(key: "timeout", value: .scalar(DurationText.format(timeout))),
    ]
    collector.origins["providers[0].name"] = .seedKey(ConfigSchema.seedCluster)
    collector.origins["providers[0].url"] = .seedKey(ConfigSchema.seedCluster)
    collector.origins["providers[0].authority"] = .seedKey(ConfigSchema.seedAuthority)
    collector.origins["providers[0].ttl"] = .seedKey(ConfigSchema.seedExpiry)
    collector.origins["providers[0].timeout"] = .seedKey(ConfigSchema.seedExpiry)
    return .mapping([ConfigEntry(key: "providers", value: .sequence([.mapping(provider)]))])
  }

  // MARK: - Environment

  /// Lays `AUGMENTER_*` variables over the tree as scalars, recording where each came from.
  static func applyEnvironment(_ environment: [String: String], to root: inout ConfigNode, collector: inout ProblemCollector) {
    let prefix = ConfigSchema.environmentPrefix
    // Sorted so problems come out in the same order on every run.
    for (variable, value) in environment.sorted(by: { $0.key < $1.key }) where variable.hasPrefix(prefix) {
      let segments = variable.dropFirst(prefix.count).components(separatedBy: "__")
      let top = segments[0].lowercased()
      guard ConfigSchema.topLevel.contains(top) else { continue }
      if case .null = root { root = .mapping([]) }
      guard var entries = root.entries else { return }  // the decoder reports the bad document

      func problem(_ message: String) {
        collector.report(variable, message)
      }

      if ConfigSchema.topLevelScalars.contains(top) {
        guard segments.count == 1 else {
          problem("\(top) is a single value; set it with \(prefix)\(top.uppercased())")
          continue
        }
        entries.set(top, .scalar(value))
        collector.origins[top] = .environment(variable)
      } else if let known = ConfigSchema.scalarSections[top] {
        guard segments.count == 2 else {
          problem("expected \(prefix)\(top.uppercased())__<KEY> with a key among \(known.joined(separator: ", "))")
          continue
        }
        let key = segments[1].lowercased()
        guard known.contains(key) else {
          problem(KeySuggestion.unknownKeyMessage(key, known: known))
          continue
        }
        var section = entries.value(top) ?? .null
        if case .null = section { section = .mapping([]) }
        guard var sectionEntries = section.entries else { continue }  // decoder reports the file's value
        sectionEntries.set(key, .scalar(value))
        entries.set(top, .mapping(sectionEntries))
        collector.origins["\(top).\(key)"] = .environment(variable)
      } else if top == "headers" {
        guard segments.count == 2, !segments[1].isEmpty else {
          problem("expected \(prefix)HEADERS__<NAME>, with _ standing for - in the header name")
          continue
        }
        // Environment variable names cannot hold '-', so '_' stands for it.
        let name = segments[1].lowercased().replacingOccurrences(of: "_", with: "-")
        var section = entries.value(top) ?? .null
        if case .null = section { section = .mapping([]) }
        guard var headerEntries = section.entries else { continue }
        // Override the file's entry for this header whatever its case, keeping its spelling.
        let key = headerEntries.first(where: { $0.key.lowercased() == name })?.key ?? name
        headerEntries.set(key, .scalar(value))
        entries.set(top, .mapping(headerEntries))
        collector.origins["headers.\(key)"] = .environment(variable)
      } else if top == "providers" {
        let isTLSKey = segments.count == 4 && segments[2].lowercased() == "tls"
        guard segments.count == 3 || isTLSKey else {
          problem(
            "expected \(prefix)PROVIDERS__<INDEX>__<KEY>, like \(prefix)PROVIDERS__0__URL, "
              + "or \(prefix)PROVIDERS__<INDEX>__TLS__<KEY>")
          continue
        }
        let existing: [ConfigNode]
        switch entries.value(top) ?? .null {
        case .sequence(let list): existing = list
        case .null: existing = []
        default: continue  // decoder reports the file's value
        }
        guard let index = Int(segments[1]), index >= 0, segments[1].allSatisfy(\.isNumber) else {
          problem("\"\(segments[1])\" is not a provider index (0, 1, ...)")
          continue
        }
        guard index < existing.count else {
          problem(
            "no provider at index \(index): the configuration has \(existing.count) provider(s); "
              + "environment variables override providers but cannot add them")
          continue
        }
        let key = segments[2].lowercased()
        guard ConfigSchema.provider.contains(key) else {
          problem(KeySuggestion.unknownKeyMessage(key, known: ConfigSchema.provider))
          continue
        }
        guard var providerEntries = existing[index].entries else { continue }
        if isTLSKey {
          let tlsKey = segments[3].lowercased()
          guard ConfigSchema.providerTLS.contains(tlsKey) else {
            problem(KeySuggestion.unknownKeyMessage(tlsKey, known: ConfigSchema.providerTLS))
            continue
          }
          var tls = providerEntries.value("tls") ?? .null
          if case .null = tls { tls = .mapping([]) }
          guard var tlsEntries = tls.entries else { continue }  // decoder reports the file's value
          tlsEntries.set(tlsKey, .scalar(value))
          providerEntries.set("tls", .mapping(tlsEntries))
          collector.origins["providers[\(index)].tls.\(tlsKey)"] = .environment(variable)
        } else {
          providerEntries.set(key, .scalar(value))
          collector.origins["providers[\(index)].\(key)"] = .environment(variable)
        }
        var list = existing
        list[index] = .mapping(providerEntries)
        entries.set(top, .sequence(list))
      }
      root = .mapping(entries)
    }
  }
}

extension [ConfigEntry] {
  /// The value of `key`, if present.
  fileprivate func value(_ key: String) -> ConfigNode? {
    first(where: { $0.key == key })?.value
  }

  /// Replaces the value of `key`, or appends it.
  fileprivate mutating func set(_ key: String, _ value: ConfigNode) {
    if let index = firstIndex(where: { $0.key == key }) {
      self[index].value = value
    } else {
      append(ConfigEntry(key: key, value: value))
    }
  }
}
