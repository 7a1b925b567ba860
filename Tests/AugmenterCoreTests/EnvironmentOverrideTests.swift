// Environment overrides: AUGMENTER_ + key path, segments joined by "__".

import AugmenterCore
import Testing

@Suite("Environment overrides")
struct EnvironmentOverrideTests {
  static let file = """
    listen: 0.0.0.0:9191
    providers:
      - name: first
        url: http://127.0.0.1:8081/headers
      - name: second
        url: http://127.0.0.1:8082/headers
    headers:
      X-Static: from-file
    grpc:
      max_message_bytes: 8192
    """

  @Test("top-level values")
  func topLevel() throws {
    let config = try ConfigLoader.parse(
      Self.file,
      environment: [
        "AUGMENTER_LISTEN": "127.0.0.1:7000",
        "AUGMENTER_ADMIN_LISTEN": "[::1]:7001",
        "AUGMENTER_ON_UNAVAILABLE": "allow",
        "AUGMENTER_LOG_LEVEL": "warning",
        "AUGMENTER_SHUTDOWN_GRACE_PERIOD": "3s",
      ])
    #expect(config.listen == ListenAddress(host: "127.0.0.1", port: 7000))
    #expect(config.adminListen == ListenAddress(host: "::1", port: 7001))
    #expect(config.onUnavailable == .allow)
    #expect(config.logLevel == "warning")
    #expect(config.shutdownGracePeriod == .seconds(3))
    #expect(config.providers.count == 2)
  }

  @Test("nested sections, present in the file or not")
  func nested() throws {
    let config = try ConfigLoader.parse(
      Self.file,
      environment: [
        "AUGMENTER_GRPC__MAX_MESSAGE_BYTES": "2048",
        "AUGMENTER_HTTP2__INITIAL_WINDOW_SIZE": "65535",
        "AUGMENTER_HTTP2__MAX_CONCURRENT_STREAMS": "10",
      ])
    #expect(config.grpcMaxMessageBytes == 2048)
    #expect(config.http2InitialWindowSize == 65535)
    #expect(config.http2MaxConcurrentStreams == 10)
  }

  @Test("a provider by index")
  func providerIndex() throws {
    let config = try ConfigLoader.parse(
      Self.file,
      environment: [
        "AUGMENTER_PROVIDERS__1__URL": "https://other:9443/h",
        "AUGMENTER_PROVIDERS__1__TTL": "30s",
        "AUGMENTER_PROVIDERS__0__REQUIRED": "false",
        "AUGMENTER_PROVIDERS__0__TOKEN_FILE": "/run/token",
      ])
    #expect(config.providers[1].url == "https://other:9443/h")
    #expect(config.providers[1].ttl == .seconds(30))
    #expect(config.providers[1].name == "second")
    #expect(config.providers[0].required == false)
    #expect(config.providers[0].tokenFile == "/run/token")
    #expect(config.providers[0].url == "http://127.0.0.1:8081/headers")
  }

  @Test("the headers map: _ stands for -, the file's entry is replaced whatever its case")
  func headersMap() throws {
    let config = try ConfigLoader.parse(
      Self.file,
      environment: ["AUGMENTER_HEADERS__X_STATIC": "from-env", "AUGMENTER_HEADERS__X_NEW_ONE": "new"])
    #expect(config.headers == [HeaderField(name: "x-static", value: "from-env"), HeaderField(name: "x-new-one", value: "new")])
  }

  @Test("overrides apply to the defaults when there is no file")
  func withoutFile() throws {
    let config = try ConfigLoader.defaults(environment: ["AUGMENTER_LISTEN": "127.0.0.1:0", "AUGMENTER_HEADERS__X_A": "a"])
    #expect(config.listen == ListenAddress(host: "127.0.0.1", port: 0))
    #expect(config.headers == [HeaderField(name: "x-a", value: "a")])
    #expect(config.adminListen == AugmenterConfig.defaults.adminListen)
  }

  @Test("a bad value from the environment names the variable")
  func badValueNamesVariable() {
    let found = problems(Self.file, environment: ["AUGMENTER_PROVIDERS__0__TTL": "10", "AUGMENTER_LISTEN": "nowhere"])
    #expect(found.count == 2)
    let ttl = found.first { $0.keyPath == "providers[0].ttl" }
    #expect(ttl?.message.contains("bare number") == true)
    #expect(ttl?.description.contains("AUGMENTER_PROVIDERS__0__TTL") == true)
    let listen = found.first { $0.keyPath == "listen" }
    #expect(listen?.description.contains("AUGMENTER_LISTEN") == true)
  }

  @Test("a rule broken through the environment names the variable too")
  func ruleBrokenNamesVariable() {
    let found = problems(Self.file, environment: ["AUGMENTER_PROVIDERS__0__TIMEOUT": "10m"])
    #expect(found.count == 1)
    #expect(found.first?.keyPath == "providers[0].timeout")
    #expect(found.first?.description.contains("AUGMENTER_PROVIDERS__0__TIMEOUT") == true)
  }

  @Test("a provider index that does not exist is an error")
  func indexOutOfRange() {
    let found = problems(Self.file, environment: ["AUGMENTER_PROVIDERS__2__URL": "http://x/h"])
    #expect(found.count == 1)
    #expect(found.first?.keyPath == "AUGMENTER_PROVIDERS__2__URL")
    #expect(found.first?.message.contains("no provider at index 2") == true)
  }

  @Test(
    "malformed override names are errors naming the variable",
    arguments: [
      ("AUGMENTER_PROVIDERS__X__URL", "not a provider index"),
      ("AUGMENTER_PROVIDERS__0__TLL", "did you mean ttl?"),
      ("AUGMENTER_PROVIDERS__0", "AUGMENTER_PROVIDERS__<INDEX>__<KEY>"),
      ("AUGMENTER_GRPC__MAX_MESSAGE_SIZE", "did you mean max_message_bytes?"),
      ("AUGMENTER_HTTP2", "AUGMENTER_HTTP2__<KEY>"),
      ("AUGMENTER_LISTEN__PORT", "single value"),
    ])
  func malformedNames(variable: String, fragment: String) {
    let found = problems(Self.file, environment: [variable: "1"])
    #expect(found.count == 1, "\(found)")
    #expect(found.first?.keyPath == variable)
    #expect(found.first?.message.contains(fragment) == true, "\(found)")
  }

  @Test("unrelated variables are ignored, Kubernetes service links included")
  func unrelatedIgnored() throws {
    let config = try ConfigLoader.parse(
      Self.file,
      environment: [
        "PATH": "/usr/bin", "HOME": "/root", "LISTEN": "x", "AUGMENTER_PORT": "tcp://10.0.0.1:9191",
        "AUGMENTER_SERVICE_HOST": "10.0.0.1", "AUGMENTER_PORT_9191_TCP_ADDR": "10.0.0.1", "AUGMENTER_CONFIG": "/etc/a.yaml",
      ])
    #expect(config == (try ConfigLoader.parse(Self.file, environment: [:])))
  }
}

@Suite("Seed filter format")
struct SeedFormatTests {
  @Test("defaults: one provider named sidecar, http://sidecar:80/headers, 360s")
  func defaults() throws {
    let config = try ConfigLoader.parse("header_providing_service_cluster: sidecar", environment: [:])
    #expect(
      config.providers == [
        ProviderConfig(name: "sidecar", url: "http://sidecar:80/headers", authority: "sidecar", ttl: .seconds(360))
      ])
    #expect(config.listen == AugmenterConfig.defaults.listen)
    #expect(config.onUnavailable == .deny)
  }

  @Test("the JSON file the filter used, with a custom cluster and port")
  func customCluster() throws {
    let json = """
      {"header_providing_service_cluster": "headers.internal:8080",
       "header_providing_service_authority": "hdr.example",
       "header_providing_service_path": "/v1/headers",
       "header_cache_expiry": "90s"}
      """
    let config = try ConfigLoader.parse(json, environment: [:])
    #expect(
      config.providers == [
        ProviderConfig(
          name: "headers-internal", url: "http://headers.internal:8080/v1/headers", authority: "hdr.example",
          ttl: .seconds(90))
      ])
  }

  @Test("a short expiry gets a timeout below it")
  func shortExpiry() throws {
    let config = try ConfigLoader.parse("header_cache_expiry: 1s", environment: [:])
    #expect(config.providers.first?.ttl == .seconds(1))
    #expect(config.providers.first?.timeout == .milliseconds(500))
  }

  @Test("environment overrides apply to the converted provider")
  func environment() throws {
    let config = try ConfigLoader.parse(
      "header_cache_expiry: 60s", environment: ["AUGMENTER_PROVIDERS__0__MAX_STALE": "30s", "AUGMENTER_LISTEN": "127.0.0.1:1"])
    #expect(config.providers.first?.maxStale == .seconds(30))
    #expect(config.listen.port == 1)
  }

  @Test("mixing seed keys with Augmenter keys explains both formats")
  func mixing() {
    let found = problems("header_providing_service_cluster: sidecar\nproviders: []")
    #expect(found.count == 1)
    #expect(found.first?.keyPath == "")
    let message = found.first?.message ?? ""
    #expect(message.contains("header_providing_service_cluster, header_providing_service_authority"))
    #expect(message.contains("providers list"))
    #expect(message.contains("(providers)"))
  }

  @Test(
    "bad seed values are reported at the seed key",
    arguments: [
      ("header_cache_expiry: 360", "header_cache_expiry", "bare number"),
      ("header_cache_expiry: 0s", "header_cache_expiry", "longer than 0s"),
      ("header_providing_service_cluster: \"a b\"", "header_providing_service_cluster", "host[:port]"),
      ("header_providing_service_cluster: \"sidecar:0\"", "header_providing_service_cluster", "host[:port]"),
      ("header_providing_service_path: headers", "header_providing_service_path", "absolute path"),
      ("header_providing_service_authority: \"a b\"", "header_providing_service_authority", "host[:port]"),
      ("header_cache_expiry: 1s\nheader_cache_expiri: 2s", "header_cache_expiri", "did you mean header_cache_expiry?"),
    ])
  func badSeedValues(yaml: String, keyPath: String, fragment: String) {
    let found = problems(yaml)
    #expect(found.count == 1, "\(found)")
    #expect(found.first?.keyPath == keyPath)
    #expect(found.first?.message.contains(fragment) == true, "\(found)")
  }
}
