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
    let entries: [ConfigEntry]
    switch root {
    case .null:
      return config
    case .mapping(let list):
      entries = list
    default:
      collector.report("", "expected a mapping of settings at the top level, got \(root.kind)")
      return config
    }
    for entry in entries {
      let path = entry.key
      switch entry.key {
      case "listen":
        if let value = listenAddress(entry.value, path) { config.listen = value }
      case "admin_listen":
        if let value = listenAddress(entry.value, path) { config.adminListen = value }
      case "providers":
        config.providers = providers(entry.value, path)
      case "headers":
        (config.headers, config.headerRules) = topLevelHeaders(entry.value, path)
      case "client_address":
        if let value = clientAddress(entry.value, path) { config.clientAddress = value }
      case "profiles":
        config.profiles = profiles(entry.value, path)
      case "rules":
        config.rules = rules(entry.value, path)
      case "default":
        config.defaultOutcome = defaultOutcome(entry.value, path)
      case "problem_types":
        config.problemTypes = problemTypes(entry.value, path)
      case "http_mode":
        for sub in section(entry.value, path, known: ConfigSchema.httpMode) {
          if let text = string(sub.value, "\(path).\(sub.key)") { config.httpModePathPrefix = text }
        }
      case "on_unavailable":
        if let policy = unavailablePolicy(entry.value, path) { config.onUnavailable = policy }
      case "grpc":
        for sub in section(entry.value, path, known: ConfigSchema.grpc) {
          if let value = integer(sub.value, "\(path).\(sub.key)") { config.grpcMaxMessageBytes = value }
        }
      case "http1":
        for sub in section(entry.value, path, known: ConfigSchema.http1) {
          let subPath = "\(path).\(sub.key)"
          switch sub.key {
          case "request_head_timeout":
            if let value = duration(sub.value, subPath) { config.http1RequestHeadTimeout = value }
          case "request_body_timeout":
            if let value = duration(sub.value, subPath) { config.http1RequestBodyTimeout = value }
          case "max_pipelined_requests":
            if let value = integer(sub.value, subPath) { config.http1MaxPipelinedRequests = value }
          default:
            break  // `section` only returns known keys
          }
        }
      case "http2":
        for sub in section(entry.value, path, known: ConfigSchema.http2) {
          let subPath = "\(path).\(sub.key)"
          switch sub.key {
          case "max_concurrent_streams":
            if let value = integer(sub.value, subPath) { config.http2MaxConcurrentStreams = value }
          case "initial_window_size":
            if let value = integer(sub.value, subPath) { config.http2InitialWindowSize = value }
          case "idle_timeout":
            if let value = duration(sub.value, subPath) { config.http2IdleTimeout = value }
          case "max_outbound_control_frames":
            if let value = integer(sub.value, subPath) { config.http2MaxOutboundControlFrames = value }
          case "max_buffered_request_bytes":
            if let value = integer(sub.value, subPath) { config.http2MaxBufferedRequestBytes = value }
          default:
            break  // `section` only returns known keys
          }
        }
      case "max_connections":
        if let value = integer(entry.value, path) { config.maxConnections = value }
      case "drain_delay":
        if let value = duration(entry.value, path) { config.drainDelay = value }
      case "shutdown_grace_period":
        if let value = duration(entry.value, path) { config.shutdownGracePeriod = value }
      case "idle_timeout":
        if let value = duration(entry.value, path) { config.idleTimeout = value }
      case "log_level":
        if let text = string(entry.value, path) { config.logLevel = text.lowercased() }
      case "tls":
        config.tls = listenerTLS(entry.value, path)
      case "admin_tls":
        config.adminTLS = listenerTLS(entry.value, path)
      default:
        collector.report(path, KeySuggestion.unknownKeyMessage(entry.key, known: ConfigSchema.topLevel))
      }
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
        collector.report("\(path).\(entry.key)", KeySuggestion.unknownKeyMessage(entry.key, known: known))
        return false
      }
    default:
      fail(path, "expected a mapping with keys \(known.joined(separator: ", ")), got \(node.kind)")
      return []
    }
  }

  private mutating func providers(_ node: ConfigNode, _ path: String) -> [ProviderConfig] {
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
    var provider = ProviderConfig(name: "", url: "")
    guard case .mapping = node else {
      fail(path, "expected a provider mapping with at least name and url, got \(node.kind)")
      // Its fields are not there to check: report the entry once.
      failed.formUnion(ConfigSchema.provider.map { "\(path).\($0)" })
      return provider
    }
    let entries = section(node, path, known: ConfigSchema.provider)
    for entry in entries {
      let keyPath = "\(path).\(entry.key)"
      switch entry.key {
      case "name":
        if let text = string(entry.value, keyPath) { provider.name = text }
      case "url":
        if let text = string(entry.value, keyPath) { provider.url = text }
      case "authority":
        if let text = string(entry.value, keyPath, nullable: true) { provider.authority = text }
      case "ttl":
        if let value = duration(entry.value, keyPath) { provider.ttl = value }
      case "timeout":
        if let value = duration(entry.value, keyPath) { provider.timeout = value }
      case "max_stale":
        if let value = duration(entry.value, keyPath) { provider.maxStale = value }
      case "token_file":
        if let text = string(entry.value, keyPath, nullable: true) { provider.tokenFile = text }
      case "required":
        if let value = boolean(entry.value, keyPath) { provider.required = value }
      case "max_answer_bytes":
        if let value = integer(entry.value, keyPath) { provider.maxAnswerBytes = value }
      case "header_actions":
        provider.headerActions = headerActions(entry.value, keyPath)
      case "tls":
        provider.tls = providerTLS(entry.value, keyPath)
      case "follow_redirects":
        if let text = string(entry.value, keyPath) {
          if let policy = RedirectPolicy(rawValue: text) {
            provider.followRedirects = policy
          } else {
            fail(keyPath, "expected never or same_origin, got \"\(text)\"")
          }
        }
      default:
        break  // `section` only returns known keys
      }
    }
    for key in ["name", "url"] where !entries.contains(where: { $0.key == key }) {
      fail("\(path).\(key)", "missing; every provider needs a name and a url")
    }
    return provider
  }

  /// A listener's `tls` mapping; `nil` for `null` (plaintext) or a mapping that cannot be read.
  private mutating func listenerTLS(_ node: ConfigNode, _ path: String) -> ListenerTLSConfig? {
    if case .null = node { return nil }
    let entries = section(node, path, known: ConfigSchema.listenerTLS)
    guard case .mapping = node else { return nil }
    var tls = ListenerTLSConfig(cert: "", key: "")
    for entry in entries {
      let keyPath = "\(path).\(entry.key)"
      switch entry.key {
      case "cert":
        if let text = string(entry.value, keyPath) { tls.cert = text }
      case "key":
        if let text = string(entry.value, keyPath) { tls.key = text }
      case "client_ca":
        if let text = string(entry.value, keyPath, nullable: true) { tls.clientCA = text }
      case "require_client_cert":
        if let value = boolean(entry.value, keyPath) { tls.requireClientCert = value }
      case "min_version":
        if let text = string(entry.value, keyPath) { tls.minVersion = Self.tlsVersion(text) }
      case "ciphers":
        if let text = string(entry.value, keyPath, nullable: true) { tls.ciphers = text }
      case "cipher_suites":
        if let text = string(entry.value, keyPath, nullable: true) { tls.cipherSuites = text }
      case "handshake_timeout":
        if let value = duration(entry.value, keyPath) { tls.handshakeTimeout = value }
      case "reload_interval":
        if let value = duration(entry.value, keyPath) { tls.reloadInterval = value }
      default:
        break  // `section` only returns known keys
      }
    }
    for key in ["cert", "key"] where !entries.contains(where: { $0.key == key }) {
      fail("\(path).\(key)", "missing; TLS needs a certificate (cert) and its private key (key)")
    }
    return tls
  }

  /// `TLSv1.3`, `tls1.3` and `1.3` all name TLS 1.3.
  private static func tlsVersion(_ text: String) -> String {
    var version = Substring(text.trimmingSpaces().lowercased())
    for prefix in ["tlsv", "tls"] where version.hasPrefix(prefix) {
      version = version.dropFirst(prefix.count)
      break
    }
    return ListenerTLSConfig.versions.contains(String(version)) ? String(version) : text
  }

  /// A provider's `tls` mapping.
  private mutating func providerTLS(_ node: ConfigNode, _ path: String) -> ProviderTLSConfig? {
    if case .null = node { return nil }
    let entries = section(node, path, known: ConfigSchema.providerTLS)
    guard case .mapping = node else { return nil }
    var tls = ProviderTLSConfig()
    for entry in entries {
      let text = string(entry.value, "\(path).\(entry.key)", nullable: true)
      switch entry.key {
      case "ca": tls.ca = text
      case "cert": tls.cert = text
      case "key": tls.key = text
      default: break
      }
    }
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

  private mutating func listenAddress(_ node: ConfigNode, _ path: String) -> ListenAddress? {
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
