// Ranges and cross-field rules on a typed configuration.

import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// Checks a typed configuration against the rules of DESIGN.md.
struct ConfigValidator {
  var collector: ProblemCollector
  /// Key paths that could not be decoded; rules about them are skipped (already reported).
  var failed: Set<String>
  /// The index in the file of each rule, when some could not be read (else the position).
  var ruleSourceIndices: [Int] = []

  /// Largest value of a 31-bit HTTP/2 setting (RFC 9113 caps windows at 2^31-1).
  static let max31Bit = 2_147_483_647
  /// Bounds of `max_answer_bytes`: `{}` is 2 bytes; 16 MiB is far beyond any sane header set.
  static let answerBytesRange = 2...16_777_216
  /// Bounds of `grpc.max_message_bytes`: a CheckRequest with ordinary headers needs a few KiB.
  static let grpcMessageBytesRange = 1024...max31Bit
  /// Longest static header value, the same bound as for provider answers.
  static let maxStaticValueBytes = ProviderAnswerLimits.default.maxValueBytes

  mutating func check(_ keyPath: String, _ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition && !failed.contains(keyPath) {
      collector.report(keyPath, message())
    }
  }

  mutating func validate(_ config: AugmenterConfig) {
    validateListen(config.listen, "listen")
    validateListen(config.adminListen, "admin_listen")
    if config.listen == config.adminListen && config.listen.port != 0 {
      check("admin_listen", false, "must differ from listen (\(config.listen)): the admin endpoints never share the check port")
    }

    var firstIndexByName: [String: Int] = [:]
    for (index, provider) in config.providers.enumerated() {
      validate(provider, "providers[\(index)]")
      if !provider.name.isEmpty {
        if let first = firstIndexByName[provider.name] {
          check("providers[\(index)].name", false, "duplicate provider name \"\(provider.name)\" (also providers[\(first)])")
        } else {
          firstIndexByName[provider.name] = index
        }
      }
    }

    var seenHeaders: [String: String] = [:]
    // Both forms of top-level headers share one name space.
    for rule in config.headerRules { seenHeaders[rule.name.lowercased()] = rule.name }
    for header in config.headers {
      let keyPath = "headers.\(header.name)"
      if let problem = HeaderRules.nameProblem(header.name) {
        check(keyPath, false, problem)
      } else if let other = seenHeaders[header.name.lowercased()] {
        check(keyPath, false, "duplicate of header \"\(other)\" (header names are case-insensitive)")
      } else {
        seenHeaders[header.name.lowercased()] = header.name
      }
      if let problem = HeaderRules.valueProblem(HeaderRules.trimmed(header.value).utf8, maxBytes: Self.maxStaticValueBytes) {
        check(keyPath, false, problem)
      }
    }

    if let tls = config.tls { validate(tls, "tls") }
    if let tls = config.adminTLS { validate(tls, "admin_tls") }

    validatePolicy(config)

    check(
      "grpc.max_message_bytes", Self.grpcMessageBytesRange.contains(config.grpcMaxMessageBytes),
      "must be from \(Self.grpcMessageBytesRange.lowerBound) to \(Self.grpcMessageBytesRange.upperBound), got \(config.grpcMaxMessageBytes)"
    )
    check(
      "http2.max_concurrent_streams", (1...Self.max31Bit).contains(config.http2MaxConcurrentStreams),
      "must be from 1 to \(Self.max31Bit), got \(config.http2MaxConcurrentStreams)")
    check(
      "http2.initial_window_size", (1...Self.max31Bit).contains(config.http2InitialWindowSize),
      "must be from 1 to \(Self.max31Bit) (RFC 9113), got \(config.http2InitialWindowSize)")
    check(
      "shutdown_grace_period", config.shutdownGracePeriod >= .zero, "must not be negative")
    check(
      "idle_timeout", config.idleTimeout > .zero, "must be positive")
    check(
      "max_connections", (1...1_000_000).contains(config.maxConnections),
      "must be from 1 to 1000000, got \(config.maxConnections)")
    check("drain_delay", config.drainDelay >= .zero, "must not be negative")
    check(
      "error_responses.quote_body_bytes",
      (0...ErrorResponses.maxQuoteBodyBytes).contains(config.errorResponses.quoteBodyBytes),
      "must be from 0 to \(ErrorResponses.maxQuoteBodyBytes), got \(config.errorResponses.quoteBodyBytes)")
    check("http1.request_head_timeout", config.http1RequestHeadTimeout > .zero, "must be positive")
    check("http1.request_body_timeout", config.http1RequestBodyTimeout > .zero, "must be positive")
    check(
      "http1.max_pipelined_requests", (1...1024).contains(config.http1MaxPipelinedRequests),
      "must be from 1 to 1024, got \(config.http1MaxPipelinedRequests)")
    check("http2.idle_timeout", config.http2IdleTimeout > .zero, "must be positive")
    check(
      "http2.max_outbound_control_frames", (1...100_000).contains(config.http2MaxOutboundControlFrames),
      "must be from 1 to 100000, got \(config.http2MaxOutboundControlFrames)")
    let minimumBuffered = config.grpcMaxMessageBytes + 5
    check(
      "http2.max_buffered_request_bytes",
      (minimumBuffered...Self.max31Bit).contains(config.http2MaxBufferedRequestBytes),
      "must be from grpc.max_message_bytes + 5 (\(minimumBuffered)) to \(Self.max31Bit), got \(config.http2MaxBufferedRequestBytes)")
    if let limit = config.http1MaxRequestBodyBytes {
      check(
        "http1.max_request_body_bytes", (0...Self.max31Bit).contains(limit),
        "must be from 0 to \(Self.max31Bit), got \(limit)")
    }
    if let limit = config.http2MaxRequestBodyBytes {
      check(
        "http2.max_request_body_bytes", (0...config.http2MaxBufferedRequestBytes).contains(limit),
        "must be from 0 to http2.max_buffered_request_bytes (\(config.http2MaxBufferedRequestBytes)), got \(limit)")
    }
    check(
      "log_level", AugmenterConfig.logLevels.contains(config.logLevel),
      "expected one of \(AugmenterConfig.logLevels.joined(separator: ", ")), got \"\(config.logLevel)\"")
  }

  private mutating func validate(_ tls: ListenerTLSConfig, _ path: String) {
    validateFile(tls.cert, "\(path).cert")
    validateFile(tls.key, "\(path).key")
    if let clientCA = tls.clientCA { validateFile(clientCA, "\(path).client_ca") }
    check(
      "\(path).require_client_cert", !tls.requireClientCert || tls.clientCA != nil,
      "needs client_ca: client certificates are verified against it")
    check(
      "\(path).min_version", ListenerTLSConfig.versions.contains(tls.minVersion),
      "expected 1.2 or 1.3, got \"\(tls.minVersion)\"")
    for (key, list) in [("ciphers", tls.ciphers), ("cipher_suites", tls.cipherSuites)] {
      if let list { check("\(path).\(key)", !list.trimmingSpaces().isEmpty, "must not be empty (leave the key out for the default)") }
    }
    check("\(path).handshake_timeout", tls.handshakeTimeout > .zero, "must be longer than 0s")
    check("\(path).reload_interval", tls.reloadInterval > .zero, "must be longer than 0s")
  }

  private mutating func validate(_ tls: ProviderTLSConfig, _ path: String, url: String) {
    if !url.lowercased().hasPrefix("https://") && !failed.contains("\(path.dropLast(4)).url") {
      check(path, false, "applies only to an https:// url")
    }
    if let ca = tls.ca { validateFile(ca, "\(path).ca") }
    if let cert = tls.cert { validateFile(cert, "\(path).cert") }
    if let key = tls.key { validateFile(key, "\(path).key") }
    check("\(path).key", tls.cert == nil || tls.key != nil, "missing; a client certificate (cert) needs its private key (key)")
    check("\(path).cert", tls.key == nil || tls.cert != nil, "missing; a private key (key) needs its client certificate (cert)")
  }

  /// A file the service reads at startup (and again when it changes) must be readable now.
  private mutating func validateFile(_ filePath: String, _ keyPath: String, expecting what: String = "a PEM file") {
    if filePath.trimmingSpaces().isEmpty {
      check(keyPath, false, "must not be empty")
    } else if let problem = Self.readProblem(filePath, expecting: what) {
      check(keyPath, false, problem)
    }
  }

  /// Why `filePath` cannot be read as a file now, or nil when it can.
  ///
  /// The file is really opened and a byte read (and dropped, never shown): permission bits and
  /// `access(2)` say nothing for root, which is what containers often run as, and only a read
  /// finds what the kernel refuses anyway (a `/proc/sys` entry without read permission, a
  /// filesystem error). What is not a regular file is refused before it is opened: reading a FIFO
  /// blocks until some writer appears, and a socket cannot be opened at all.
  private static func readProblem(_ filePath: String, expecting what: String) -> String? {
    var info = stat()
    guard stat(filePath, &info) == 0 else {
      let error = errno
      return error == ENOENT || error == ENOTDIR
        ? "no such file: \(filePath)" : "not readable by this process (\(String(cString: strerror(error)))): \(filePath)"
    }
    switch info.st_mode & S_IFMT {
    case S_IFREG: break
    case S_IFDIR: return "not readable: a directory, expected \(what): \(filePath)"
    case S_IFIFO: return "not readable: a FIFO, expected \(what): \(filePath)"
    case S_IFSOCK: return "not readable: a socket, expected \(what): \(filePath)"
    default: return "not readable: a device, expected \(what): \(filePath)"
    }
    let descriptor = open(filePath, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
    guard descriptor >= 0 else {
      return "not readable by this process (\(String(cString: strerror(errno)))): \(filePath)"
    }
    defer { close(descriptor) }
    var byte: UInt8 = 0
    var count: Int
    repeat { count = read(descriptor, &byte, 1) } while count < 0 && errno == EINTR
    return count < 0 ? "not readable by this process (\(String(cString: strerror(errno)))): \(filePath)" : nil
  }

  private mutating func validateListen(_ address: ListenAddress, _ keyPath: String) {
    check(keyPath, !address.host.isEmpty, "the host is missing (use 0.0.0.0 for every address)")
    check(keyPath, (0...65535).contains(address.port), "port must be a number from 0 to 65535, got \(address.port)")
  }

  private mutating func validate(_ provider: ProviderConfig, _ path: String) {
    let name = provider.name
    check(
      "\(path).name",
      !name.isEmpty && name.utf8.count <= 64
        && name.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x5F || $0 == 0x2D },
      "expected 1 to 64 characters from a-z, 0-9, _ and -, got \"\(name)\"")

    switch provider.kind {
    case .http:
      if let problem = Self.urlProblem(provider.url) {
        check("\(path).url", false, problem)
      }
    case .file:
      validateFileKind(provider, path)
    case .oauth2ClientCredentials:
      validateOAuth2(provider, path)
    case .tokenExchange:
      validateOAuth2(provider, path)
      validateTokenExchange(provider, path)
    }
    validateKeysOfOtherKinds(provider, path)
    if let authority = provider.authority, let problem = Self.authorityProblem(authority) {
      check("\(path).authority", false, problem)
    }
    check("\(path).ttl", provider.ttl > .zero, "must be longer than 0s")
    check("\(path).timeout", provider.timeout > .zero, "must be longer than 0s")
    if provider.ttl > .zero && provider.timeout > .zero && !failed.contains("\(path).ttl") {
      // A fetch that may outlast the ttl would let fresh headers expire while it is still running.
      check(
        "\(path).timeout", provider.timeout < provider.ttl,
        "must be shorter than ttl (\(DurationText.format(provider.ttl))), got \(DurationText.format(provider.timeout))")
    }
    check("\(path).max_stale", provider.maxStale >= .zero, "must not be negative")
    check("\(path).expiry_skew", provider.expirySkew >= .zero, "must not be negative")
    if let tokenFile = provider.tokenFile {
      check("\(path).token_file", !tokenFile.trimmingSpaces().isEmpty, "must not be empty (leave the key out for no token)")
    }
    if let tls = provider.tls { validate(tls, "\(path).tls", url: provider.sourceURL) }
    check(
      "\(path).max_answer_bytes", Self.answerBytesRange.contains(provider.maxAnswerBytes),
      "must be from \(Self.answerBytesRange.lowerBound) to \(Self.answerBytesRange.upperBound), got \(provider.maxAnswerBytes)")
  }

  /// A `file` provider: at least one header, each a valid name with a readable file and a format
  /// that places the content.
  private mutating func validateFileKind(_ provider: ProviderConfig, _ path: String) {
    check("\(path).files", !provider.files.isEmpty, "missing; a file provider needs at least one header and its file")
    for file in provider.files {
      let filePath = joinKeyPath("\(path).files", file.name)
      if let problem = HeaderRules.nameProblem(file.name) {
        check(filePath, false, problem)
      }
      if file.path.trimmingSpaces().isEmpty {
        check("\(filePath).path", false, "missing; each file header needs the path of its file")
      } else {
        validateFile(file.path, "\(filePath).path", expecting: "a file")
      }
      check("\(filePath).format", file.format.contains("{}"), "must contain {} where the file's content goes")
    }
    check("\(path).watch_interval", provider.watchInterval > .zero, "must be longer than 0s")
  }

  /// A provider of an OAuth 2.0 kind (`oauth2_client_credentials`, `token_exchange`): its
  /// endpoint, client and secret or key file, and the header the token goes into.
  private mutating func validateOAuth2(_ provider: ProviderConfig, _ path: String) {
    if let problem = Self.urlProblem(provider.tokenURL ?? "") {
      check("\(path).token_url", false, provider.tokenURL == nil ? "missing; the token endpoint is required" : problem)
    }
    check(
      "\(path).client_id", !(provider.clientID ?? "").trimmingSpaces().isEmpty,
      provider.clientID == nil ? "missing; the client identifier is required" : "must not be empty")
    if provider.clientAuth == .privateKeyJWT {
      if let keyFile = provider.privateKeyFile {
        validateFile(keyFile, "\(path).private_key_file")
      } else {
        check("\(path).private_key_file", false, "missing; client_auth private_key_jwt signs with this key")
      }
      check("\(path).client_secret_file", provider.clientSecretFile == nil, "not used with client_auth private_key_jwt")
    } else {
      if let secretFile = provider.clientSecretFile {
        validateFile(secretFile, "\(path).client_secret_file", expecting: "a file")
      } else {
        check("\(path).client_secret_file", false, "missing; the file holding the client secret is required")
      }
      for (key, isSet) in [
        ("private_key_file", provider.privateKeyFile != nil), ("signing_alg", provider.signingAlgorithm != .rs256),
        ("key_id", provider.keyID != nil),
      ] where isSet {
        check("\(path).\(key)", false, "applies only to client_auth private_key_jwt")
      }
    }
    if let problem = HeaderRules.nameProblem(provider.header) {
      check("\(path).header", false, problem)
    }
    check("\(path).format", provider.format.contains("{}"), "must contain {} where the access token goes")
    check("\(path).token_type", !provider.tokenType.trimmingSpaces().isEmpty, "must not be empty (leave the key out for Bearer)")
  }

  /// A `token_exchange` provider's own keys: a readable subject token file and the token types.
  private mutating func validateTokenExchange(_ provider: ProviderConfig, _ path: String) {
    if let subjectTokenFile = provider.subjectTokenFile {
      validateFile(subjectTokenFile, "\(path).subject_token_file", expecting: "a file")
    } else {
      check("\(path).subject_token_file", false, "missing; the file holding the subject token is required")
    }
    check("\(path).subject_token_type", !provider.subjectTokenType.trimmingSpaces().isEmpty, "must not be empty")
    if let requested = provider.requestedTokenType {
      check(
        "\(path).requested_token_type", !requested.trimmingSpaces().isEmpty,
        "must not be empty (leave the key out to let the server choose)")
    }
  }

  /// Keys that belong to another kind are mistakes (a `url` on a file provider is never fetched).
  private mutating func validateKeysOfOtherKinds(_ provider: ProviderConfig, _ path: String) {
    let defaults = ProviderConfig(name: provider.name, url: "")
    let oauth2Kinds = ProviderKind.allCases.filter(\.isOAuth2)
    var set: [(key: String, kinds: [ProviderKind])] = []
    if !provider.url.isEmpty { set.append(("url", [.http])) }
    if !provider.files.isEmpty { set.append(("files", [.file])) }
    if provider.watchInterval != defaults.watchInterval { set.append(("watch_interval", [.file])) }
    let oauth: [(String, Bool)] = [
      ("token_url", provider.tokenURL != nil), ("client_id", provider.clientID != nil),
      ("client_secret_file", provider.clientSecretFile != nil), ("client_auth", provider.clientAuth != defaults.clientAuth),
      ("scope", provider.scope != nil), ("audience", provider.audience != nil), ("resource", provider.resource != nil),
      ("header", provider.header != defaults.header), ("format", provider.format != defaults.format),
      ("private_key_file", provider.privateKeyFile != nil), ("signing_alg", provider.signingAlgorithm != defaults.signingAlgorithm),
      ("key_id", provider.keyID != nil), ("token_type", provider.tokenType != defaults.tokenType),
    ]
    for (key, isSet) in oauth where isSet { set.append((key, oauth2Kinds)) }
    let exchange: [(String, Bool)] = [
      ("subject_token_file", provider.subjectTokenFile != nil),
      ("subject_token_type", provider.subjectTokenType != defaults.subjectTokenType),
      ("requested_token_type", provider.requestedTokenType != nil),
    ]
    for (key, isSet) in exchange where isSet { set.append((key, [.tokenExchange])) }
    for (key, kinds) in set where !kinds.contains(provider.kind) {
      let names = kinds.map(\.rawValue)
      let owner = names.count == 1 ? "kind \(names[0])" : "kinds \(names.joined(separator: " and "))"
      check("\(path).\(key)", false, "applies only to \(owner); this provider's kind is \(provider.kind.rawValue)")
    }
  }

  /// What is wrong with a provider URL, if anything. The URL itself is not quoted: it may carry
  /// credentials in its userinfo or query.
  static func urlProblem(_ url: String) -> String? {
    if url.isEmpty { return "must not be empty" }
    guard let components = URLComponents(string: url), let scheme = components.scheme else {
      return "not a valid URL; expected http://host[:port]/path or https://..."
    }
    guard ["http", "https"].contains(scheme.lowercased()) else {
      return "scheme must be http or https, got \"\(scheme)\""
    }
    guard let host = components.host, !host.isEmpty else {
      return "the host is missing; expected http://host[:port]/path"
    }
    if let port = components.port, !(1...65535).contains(port) {
      return "port must be from 1 to 65535"
    }
    return nil
  }

  /// What is wrong with an authority (`host[:port]`), if anything.
  static func authorityProblem(_ authority: String) -> String? {
    if authority.isEmpty { return "must not be empty (leave the key out to use the URL's host)" }
    // RFC 3986 authority characters without userinfo: reg-name / IP-literal, then ":port".
    let allowed = authority.utf8.allSatisfy { byte in
      switch byte {
      case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
        UInt8(ascii: "0")...UInt8(ascii: "9"):
        return true
      default:
        return "-._~!$&'()*+,;=:[]%".utf8.contains(byte)
      }
    }
    return allowed ? nil : "expected host[:port] without scheme, path, spaces or userinfo"
  }
}
