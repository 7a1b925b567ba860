// Configuration: formats, defaults, every validation rule, problem collection, suggestions,
// durations and file loading.

import AugmenterCore
import Foundation
import Testing

/// Parses `text` and returns the problems, failing the test if it parsed.
func problems(_ text: String, environment: [String: String] = [:]) -> [ConfigProblem] {
  do {
    let config = try ConfigLoader.parse(text, environment: environment)
    Issue.record("expected problems, got a valid configuration: \(config)")
    return []
  } catch {
    return error.problems
  }
}

/// A provider entry with the given extra lines (indented for a providers list).
func providerYAML(name: String = "sidecar", url: String = "http://127.0.0.1:8081/headers", _ extra: String = "") -> String {
  var text = "  - name: \(name)\n    url: \(url)\n"
  for line in extra.split(separator: "\n") { text += "    \(line)\n" }
  return text
}

@Suite("Configuration loading")
struct ConfigLoaderTests {
  static let fullYAML = """
    listen: 127.0.0.1:9000
    admin_listen: "[::1]:9001"
    providers:
      - name: sidecar
        url: http://127.0.0.1:8081/headers
        authority: sidecar
        ttl: 6m
        timeout: 1500ms
        max_stale: 30s
        token_file: /var/run/secrets/token
        required: true
        max_answer_bytes: 4096
      - name: second_one
        url: https://provider.example:8443/h?x=1
        required: false
    headers:
      X-Static: "value one"
      x-other: two
    on_unavailable: allow
    grpc:
      max_message_bytes: 1048576
    http2:
      max_concurrent_streams: 200
      initial_window_size: 65535
    shutdown_grace_period: 1m30s
    idle_timeout: 45s
    log_level: DEBUG
    """

  static let fullJSON = """
    {
      "listen": "127.0.0.1:9000",
      "admin_listen": "[::1]:9001",
      "providers": [
        {"name": "sidecar", "url": "http://127.0.0.1:8081/headers", "authority": "sidecar", "ttl": "6m",
         "timeout": "1500ms", "max_stale": "30s", "token_file": "/var/run/secrets/token", "required": true,
         "max_answer_bytes": 4096},
    \t{"name": "second_one", "url": "https://provider.example:8443/h?x=1", "required": false}
      ],
      "headers": {"X-Static": "value one", "x-other": "two"},
      "on_unavailable": "allow",
      "grpc": {"max_message_bytes": 1048576},
      "http2": {"max_concurrent_streams": 200, "initial_window_size": 65535},
      "shutdown_grace_period": "1m30s",
      "idle_timeout": "45s",
      "log_level": "DEBUG"
    }
    """

  static let fullExpected = AugmenterConfig(
    listen: ListenAddress(host: "127.0.0.1", port: 9000),
    adminListen: ListenAddress(host: "::1", port: 9001),
    providers: [
      ProviderConfig(
        name: "sidecar", url: "http://127.0.0.1:8081/headers", authority: "sidecar", ttl: .seconds(360),
        timeout: .milliseconds(1500), maxStale: .seconds(30), tokenFile: "/var/run/secrets/token", required: true,
        maxAnswerBytes: 4096),
      ProviderConfig(name: "second_one", url: "https://provider.example:8443/h?x=1", required: false),
    ],
    headers: [HeaderField(name: "x-static", value: "value one"), HeaderField(name: "x-other", value: "two")],
    onUnavailable: .allow,
    grpcMaxMessageBytes: 1_048_576,
    http2MaxConcurrentStreams: 200,
    http2InitialWindowSize: 65535,
    shutdownGracePeriod: .seconds(90),
    idleTimeout: .seconds(45),
    logLevel: "debug")

  @Test("a full YAML file reads into every field")
  func fullYAML() throws {
    let config = try ConfigLoader.parse(Self.fullYAML, environment: [:])
    #expect(config == Self.fullExpected)
    #expect(config.adminListen.description == "[::1]:9001")
  }

  @Test("the same file as JSON reads the same")
  func fullJSON() throws {
    #expect(try ConfigLoader.parse(Self.fullJSON, environment: [:]) == Self.fullExpected)
  }

  @Test("defaults: no file, empty file, null document, empty mapping", arguments: ["", "\n# only a comment\n", "null", "~", "{}"])
  func defaults(text: String) throws {
    let config = try ConfigLoader.parse(text, environment: [:])
    #expect(config == AugmenterConfig.defaults)
  }

  @Test("the built-in defaults are those of DESIGN.md")
  func builtInDefaults() throws {
    let config = try ConfigLoader.defaults(environment: [:])
    #expect(config.listen.description == "0.0.0.0:9191")
    #expect(config.adminListen.description == "0.0.0.0:9901")
    #expect(config.providers.isEmpty)
    #expect(config.headers.isEmpty)
    #expect(config.onUnavailable == .deny)
    #expect(config.grpcMaxMessageBytes == 4_194_304)
    #expect(config.http2MaxConcurrentStreams == 1024)
    #expect(config.http2InitialWindowSize == 1_048_576)
    #expect(config.shutdownGracePeriod == .seconds(10))
    #expect(config.idleTimeout == .seconds(60))
    #expect(config.logLevel == "info")
  }

  @Test("provider defaults: ttl 360s, timeout 2s, max_stale 0s, required, 64 KiB answers")
  func providerDefaults() throws {
    let config = try ConfigLoader.parse("providers:\n" + providerYAML(), environment: [:])
    let provider = try #require(config.providers.first)
    #expect(provider.ttl == .seconds(360))
    #expect(provider.timeout == .seconds(2))
    #expect(provider.maxStale == .zero)
    #expect(provider.required)
    #expect(provider.maxAnswerBytes == 65536)
    #expect(provider.authority == nil)
    #expect(provider.tokenFile == nil)
  }

  @Test("static header values are trimmed and names lower-cased, in file order")
  func staticHeaders() throws {
    let config = try ConfigLoader.parse("headers:\n  X-B: \"  b \"\n  x-a: a\n  X-Empty: \"\"\n", environment: [:])
    #expect(
      config.headers == [
        HeaderField(name: "x-b", value: "b"), HeaderField(name: "x-a", value: "a"), HeaderField(name: "x-empty", value: ""),
      ])
  }

  // MARK: - One row per rule

  struct Rule: Sendable, CustomTestStringConvertible {
    var name: String
    var yaml: String
    var keyPath: String
    var fragment: String
    var testDescription: String { name }
  }

  static let rules: [Rule] = [
    Rule(name: "listen without port", yaml: "listen: nohost", keyPath: "listen", fragment: "missing :port"),
    Rule(name: "listen port out of range", yaml: "listen: 0.0.0.0:70000", keyPath: "listen", fragment: "0 to 65535"),
    Rule(name: "listen IPv6 without brackets", yaml: "listen: \"::1:9191\"", keyPath: "listen", fragment: "brackets"),
    Rule(name: "listen without host", yaml: "listen: \":9191\"", keyPath: "listen", fragment: "host is missing"),
    Rule(name: "listen given as a list", yaml: "listen: [\"::1\", 9191]", keyPath: "listen", fragment: "got a list"),
    Rule(name: "admin_listen bad", yaml: "admin_listen: 1.2.3.4:x", keyPath: "admin_listen", fragment: "port"),
    Rule(
      name: "admin_listen equal to listen", yaml: "listen: 0.0.0.0:9000\nadmin_listen: 0.0.0.0:9000",
      keyPath: "admin_listen", fragment: "differ from listen"),
    Rule(
      name: "provider name malformed", yaml: "providers:\n" + providerYAML(name: "Side Car"),
      keyPath: "providers[0].name", fragment: "a-z, 0-9"),
    Rule(
      name: "provider name duplicate", yaml: "providers:\n" + providerYAML() + providerYAML(),
      keyPath: "providers[1].name", fragment: "duplicate provider name \"sidecar\" (also providers[0])"),
    Rule(
      name: "provider name missing", yaml: "providers:\n  - url: http://a/h\n",
      keyPath: "providers[0].name", fragment: "missing"),
    Rule(
      name: "provider url missing", yaml: "providers:\n  - name: a\n",
      keyPath: "providers[0].url", fragment: "missing"),
    Rule(
      name: "provider url scheme", yaml: "providers:\n" + providerYAML(url: "ftp://a/h"),
      keyPath: "providers[0].url", fragment: "http or https"),
    Rule(
      name: "provider url without host", yaml: "providers:\n" + providerYAML(url: "http:///headers"),
      keyPath: "providers[0].url", fragment: "host is missing"),
    Rule(
      name: "provider url not a URL", yaml: "providers:\n" + providerYAML(url: "\"not a url\""),
      keyPath: "providers[0].url", fragment: "not a valid URL"),
    Rule(
      name: "provider authority malformed", yaml: "providers:\n" + providerYAML("authority: side car"),
      keyPath: "providers[0].authority", fragment: "host[:port]"),
    Rule(
      name: "provider ttl zero", yaml: "providers:\n" + providerYAML("ttl: 0s"),
      keyPath: "providers[0].ttl", fragment: "longer than 0s"),
    Rule(
      name: "provider timeout zero", yaml: "providers:\n" + providerYAML("timeout: 0ms"),
      keyPath: "providers[0].timeout", fragment: "longer than 0s"),
    Rule(
      name: "provider timeout not below ttl", yaml: "providers:\n" + providerYAML("ttl: 2s\ntimeout: 2s"),
      keyPath: "providers[0].timeout", fragment: "shorter than ttl (2s)"),
    Rule(
      name: "provider max_stale negative", yaml: "providers:\n" + providerYAML("max_stale: -1s"),
      keyPath: "providers[0].max_stale", fragment: "negative"),
    Rule(
      name: "provider ttl bare number", yaml: "providers:\n" + providerYAML("ttl: 360"),
      keyPath: "providers[0].ttl", fragment: "bare number"),
    Rule(
      name: "provider token_file empty", yaml: "providers:\n" + providerYAML("token_file: \"\""),
      keyPath: "providers[0].token_file", fragment: "must not be empty"),
    Rule(
      name: "provider required not a boolean", yaml: "providers:\n" + providerYAML("required: maybe"),
      keyPath: "providers[0].required", fragment: "true or false"),
    Rule(
      name: "provider max_answer_bytes too small", yaml: "providers:\n" + providerYAML("max_answer_bytes: 1"),
      keyPath: "providers[0].max_answer_bytes", fragment: "from 2 to"),
    Rule(
      name: "provider entry not a mapping", yaml: "providers:\n  - sidecar\n",
      keyPath: "providers[0]", fragment: "expected a provider mapping"),
    Rule(name: "providers not a list", yaml: "providers: sidecar", keyPath: "providers", fragment: "expected a list"),
    Rule(name: "static header name not a token", yaml: "headers:\n  X Bad: v", keyPath: "headers.X Bad", fragment: "token"),
    Rule(name: "static header pseudo", yaml: "headers:\n  \":path\": v", keyPath: "headers.:path", fragment: "pseudo-header"),
    Rule(name: "static header host", yaml: "headers:\n  Host: v", keyPath: "headers.Host", fragment: "reserved"),
    Rule(name: "static header hop-by-hop", yaml: "headers:\n  connection: v", keyPath: "headers.connection", fragment: "reserved"),
    Rule(name: "static header te", yaml: "headers:\n  te: trailers", keyPath: "headers.te", fragment: "reserved"),
    Rule(
      name: "static header content-length", yaml: "headers:\n  content-length: \"1\"", keyPath: "headers.content-length",
      fragment: "reserved"),
    Rule(
      name: "static header value with CR", yaml: "headers:\n  x-a: \"a\\rb\"", keyPath: "headers.x-a",
      fragment: "CR or LF"),
    Rule(
      name: "static header value with LF", yaml: "headers:\n  x-a: \"a\\nb\"", keyPath: "headers.x-a",
      fragment: "CR or LF"),
    Rule(
      name: "static header value with NUL", yaml: "headers:\n  x-a: \"a\\0b\"", keyPath: "headers.x-a",
      fragment: "NUL"),
    Rule(
      name: "static header duplicate ignoring case", yaml: "headers:\n  X-A: a\n  x-a: b", keyPath: "headers.x-a",
      fragment: "duplicate of header \"X-A\""),
    Rule(name: "static header without value", yaml: "headers:\n  x-a:", keyPath: "headers.x-a", fragment: "missing"),
    Rule(name: "on_unavailable unknown", yaml: "on_unavailable: maybe", keyPath: "on_unavailable", fragment: "allow or deny"),
    Rule(
      name: "grpc.max_message_bytes too small", yaml: "grpc:\n  max_message_bytes: 10",
      keyPath: "grpc.max_message_bytes", fragment: "from 1024"),
    Rule(
      name: "grpc.max_message_bytes not a number", yaml: "grpc:\n  max_message_bytes: lots",
      keyPath: "grpc.max_message_bytes", fragment: "whole number"),
    Rule(
      name: "http2.max_concurrent_streams zero", yaml: "http2:\n  max_concurrent_streams: 0",
      keyPath: "http2.max_concurrent_streams", fragment: "from 1"),
    Rule(
      name: "http2.initial_window_size above 2^31-1", yaml: "http2:\n  initial_window_size: 2147483648",
      keyPath: "http2.initial_window_size", fragment: "2147483647"),
    Rule(name: "grpc not a mapping", yaml: "grpc: 5", keyPath: "grpc", fragment: "expected a mapping"),
    Rule(
      name: "shutdown_grace_period bare number", yaml: "shutdown_grace_period: 10",
      keyPath: "shutdown_grace_period", fragment: "bare number"),
    Rule(name: "idle_timeout zero", yaml: "idle_timeout: 0s", keyPath: "idle_timeout", fragment: "must be positive"),
    Rule(name: "log_level unknown", yaml: "log_level: verbose", keyPath: "log_level", fragment: "trace, debug, info"),
    Rule(name: "top level not a mapping", yaml: "- a\n- b", keyPath: "", fragment: "top level"),
    Rule(name: "YAML syntax error", yaml: "listen: [unclosed", keyPath: "", fragment: "not valid YAML or JSON"),
    Rule(name: "duplicate keys", yaml: "listen: a:1\nlisten: b:2", keyPath: "", fragment: "duplicate key"),
    Rule(name: "JSON syntax error", yaml: "{\"listen\": \"0.0.0.0:1\"", keyPath: "", fragment: "not valid YAML or JSON"),
  ]

  @Test("each rule is reported once, at its key path", arguments: rules)
  func rule(_ rule: Rule) {
    let found = problems(rule.yaml)
    #expect(found.count == 1, "\(found)")
    let problem = found.first
    #expect(problem?.keyPath == rule.keyPath)
    #expect(problem?.message.contains(rule.fragment) == true, "\(String(describing: problem))")
  }

  @Test("a static header value never appears in a problem")
  func staticValueNotEchoed() {
    let found =
      problems("headers:\n  x-token: \"s3cr3t-value\\r\\n\"\n  x-bad name: \"other-s3cr3t\"\nlisten: [")
      + problems("headers:\n  x-token: \"s3cr3t-value\\r\\n\"\n  x-bad name: \"other-s3cr3t\"\n")
    #expect(!found.isEmpty)
    for problem in found {
      #expect(!problem.description.contains("s3cr3t"))
    }
  }

  @Test("every problem is collected, not only the first")
  func collectsAll() {
    let yaml = """
      listen: nowhere
      providers:
        - name: Bad Name
          url: ftp://x/y
          ttl: 10
        - name: ok
          url: http://a/b
          ttl: 1s
          timeout: 5s
      headers:
        X Bad: v
      log_level: loud
      """
    let found = problems(yaml)
    #expect(
      Set(found.map(\.keyPath)) == [
        "listen", "providers[0].name", "providers[0].url", "providers[0].ttl", "providers[1].timeout", "headers.X Bad",
        "log_level",
      ])
    #expect(found.count == 7)
    let error = ConfigError(problems: found)
    #expect(error.description.split(separator: "\n").count == 7)
    #expect(error.description.contains("providers[0].ttl: expected a duration like 250ms, 30s, 6m"))
  }

  // MARK: - Unknown keys

  @Test(
    "unknown keys are errors with the nearest known key",
    arguments: [
      ("listn: 0.0.0.0:1", "listn", "did you mean listen?"),
      ("providers:\n" + providerYAML("tll: 5s"), "providers[0].tll", "did you mean ttl?"),
      ("providers:\n" + providerYAML("maxStale: 5s"), "providers[0].maxStale", "did you mean max_stale?"),
      ("providers:\n" + providerYAML("timout: 1s"), "providers[0].timout", "did you mean timeout?"),
      ("http2:\n  initial_windows_size: 5", "http2.initial_windows_size", "did you mean initial_window_size?"),
      ("grpc:\n  max_message_size: 5", "grpc.max_message_size", "did you mean max_message_bytes?"),
      ("onUnavailable: allow", "onUnavailable", "did you mean on_unavailable?"),
    ])
  func unknownKeySuggestion(yaml: String, keyPath: String, suggestion: String) {
    let found = problems(yaml)
    #expect(found.count == 1, "\(found)")
    #expect(found.first?.keyPath == keyPath)
    #expect(found.first?.message.contains(suggestion) == true, "\(found)")
  }

  @Test("an unknown key far from every known one lists the known keys instead")
  func unknownKeyNoSuggestion() {
    let found = problems("frobnicate: 1")
    #expect(found.first?.keyPath == "frobnicate")
    #expect(found.first?.message.contains("did you mean") == false)
    #expect(found.first?.message.contains("listen") == true)
  }

  // MARK: - Durations

  @Test(
    "valid durations",
    arguments: [
      ("250ms", Duration.milliseconds(250)), ("30s", .seconds(30)), ("6m", .seconds(360)), ("1h", .seconds(3600)),
      ("1m30s", .seconds(90)), ("2h45m", .seconds(9900)), ("1.5s", .milliseconds(1500)), ("0.1s", .milliseconds(100)),
      ("100us", .microseconds(100)), ("5ns", .nanoseconds(5)), ("0s", .zero), ("0", .zero), ("1h0m5s", .seconds(3605)),
    ])
  func validDuration(text: String, expected: Duration) throws {
    let config = try ConfigLoader.parse("shutdown_grace_period: \"\(text)\"", environment: [:])
    #expect(config.shutdownGracePeriod == expected)
  }

  @Test(
    "invalid durations",
    arguments: [
      ("30", "bare number is ambiguous, add a unit (30s or 30ms)"), ("1.5", "bare number"), ("abc", "expected a duration"),
      ("5 s", "expected a duration"), ("1m30", "missing unit"), ("-5s", "negative"), ("", "empty"), ("1x", "unit"),
      ("s", "expected a duration"), ("1.s", "expected a duration"), ("99999999999h", "too long"),
    ])
  func invalidDuration(text: String, fragment: String) {
    let found = problems("shutdown_grace_period: \"\(text)\"")
    #expect(found.count == 1)
    #expect(found.first?.keyPath == "shutdown_grace_period")
    #expect(found.first?.message.contains(fragment) == true, "\(found)")
  }

  // MARK: - Listen addresses

  @Test(
    "listen addresses parse and print back",
    arguments: [
      ("0.0.0.0:9191", "0.0.0.0", 9191), ("[::1]:9191", "::1", 9191), ("localhost:0", "localhost", 0),
      ("[::]:80", "::", 80), ("my-host.internal:65535", "my-host.internal", 65535),
    ])
  func listenAddress(text: String, host: String, port: Int) throws {
    let address = try #require(ListenAddress(text))
    #expect(address.host == host)
    #expect(address.port == port)
    #expect(address.description == text)
  }

  // MARK: - Files

  @Test("load reads a file")
  func loadFile() throws {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("augmenter-\(UUID()).yaml").path
    try Self.fullYAML.write(toFile: path, atomically: true, encoding: .utf8)
    defer { try? FileManager.default.removeItem(atPath: path) }
    #expect(try ConfigLoader.load(path: path, environment: [:]) == Self.fullExpected)
  }

  @Test("an unreadable file is one problem at the file's path")
  func loadMissingFile() {
    let path = "/nonexistent/augmenter-\(UUID()).yaml"
    do {
      _ = try ConfigLoader.load(path: path, environment: [:])
      Issue.record("expected an error")
    } catch {
      #expect(error.problems.count == 1)
      #expect(error.problems.first?.keyPath == path)
      #expect(error.problems.first?.message.contains("cannot read") == true)
    }
  }

  @Test("a directory is not a configuration file")
  func loadDirectory() {
    do {
      _ = try ConfigLoader.load(path: NSTemporaryDirectory(), environment: [:])
      Issue.record("expected an error")
    } catch {
      #expect(error.problems.map(\.description) == ["\(NSTemporaryDirectory()): cannot read the file: it is a directory"])
    }
  }

  @Test("validate checks configurations built in code")
  func validateInCode() {
    var config = AugmenterConfig.defaults
    #expect(ConfigLoader.validate(config).isEmpty)
    config.providers = [ProviderConfig(name: "a", url: "http://a/h", ttl: .seconds(1), timeout: .seconds(2))]
    config.http2InitialWindowSize = 0
    #expect(Set(ConfigLoader.validate(config).map(\.keyPath)) == ["providers[0].timeout", "http2.initial_window_size"])
  }
}
