// The exposition of /metrics: every declared metric with its help and type, check counters by
// bounded labels, the lock-free histogram's buckets, provider gauges read at scrape time, no
// secret, and a real parser's verdict (promtool).

import AugmenterCore
import AugmenterMetrics
import Foundation
import TestSupport
import Testing

@Suite("Metrics exposition")
struct MetricsExpositionTests {
  static let policy = """
    providers:
      - name: sidecar
        url: http://127.0.0.1:1/h
        ttl: 100s
        max_stale: 20s
      - name: optional
        url: http://127.0.0.1:1/o
        required: false
    profiles:
      p: {headers: {x-p: p}}
    rules:
      - name: limited
        match: {path_prefix: /limited/}
        rate_limit: {key: "{path}", requests_per_second: 1, burst: 1, max_keys: 8}
      - match: {path_prefix: /deny/}
        deny: {status: 403}
      - name: tenant
        match: {path_prefix: /tenant/}
        allow: {profile: p}
    """

  /// A registry wired as the server wires it: both fronts and every provider.
  struct Wired {
    let registry = MetricsRegistry(version: "9.8.7")
    let clock = ManualClock()
    let config: AugmenterConfig
    let providers: ProviderRegistry
    let grpc: CheckMetrics
    let http: CheckMetrics
    let providerMetrics: [ProviderMetrics]
    let decider: Decider
    let connections: ConnectionMetrics

    init(_ yaml: String = MetricsExpositionTests.policy) throws {
      config = try ConfigLoader.parse(yaml, environment: [:])
      providers = ProviderRegistry(config: config)
      let sources = DecisionOutcome.sources(of: config)
      grpc = CheckMetrics(front: .grpc, sources: sources, registry: registry)
      http = CheckMetrics(front: .http, sources: sources, registry: registry)
      let (registry, clock) = (self.registry, self.clock)
      providerMetrics = providers.states.map { ProviderMetrics(state: $0, clock: clock, registry: registry) }
      decider = Decider(config: config, registry: providers)
      _ = RateLimitMetrics(decider: decider, clock: clock, registry: registry)
      connections = ConnectionMetrics(registry: registry)
      registry.configurationLoaded(at: Date(timeIntervalSince1970: 1_700_000_123))
    }

    var exposition: Exposition { Exposition(text: registry.exposition()) }
  }

  static func checks(_ front: String, _ outcome: String, _ rule: String, _ profile: String = "") -> String {
    #"augmenter_checks_total{front="\#(front)",outcome="\#(outcome)",rule="\#(rule)",profile="\#(profile)"}"#
  }

  @Test("every declared metric has its HELP and TYPE line, and its name follows the conventions")
  func everyMetricDeclared() throws {
    let text = try Wired().registry.exposition()
    for metric in MetricCatalog.all {
      #expect(metric.name.hasPrefix("augmenter_"))
      #expect(text.contains("# HELP \(metric.name) "), "\(metric.name) has no HELP")
      #expect(text.contains("# TYPE \(metric.name) \(metric.kind.rawValue)\n"), "\(metric.name) has no TYPE")
      #expect((metric.kind == .counter) == metric.name.hasSuffix("_total"))
      if metric.kind == .histogram { #expect(metric.name.hasSuffix("_seconds")) }
    }
    #expect(Set(MetricCatalog.all.map(\.name)).count == MetricCatalog.all.count, "one declaration per name")
  }

  @Test("check series: exactly one per front, rule and outcome the configuration can give, all from bounded sets")
  func checkSeriesAreBounded() throws {
    let series = Set(try Wired().exposition.series(of: "augmenter_checks_total"))
    var expected: Set<String> = []
    for front in ["grpc", "http"] {
      expected.insert(Self.checks(front, "error", ""))
      expected.insert(Self.checks(front, "rate_limited", "limited"))
      expected.insert(Self.checks(front, "deny", "1"))
      expected.insert(Self.checks(front, "allow", "tenant", "p"))
      expected.insert(Self.checks(front, "unavailable", "tenant", "p"))
      expected.insert(Self.checks(front, "allow", "default"))
      expected.insert(Self.checks(front, "unavailable", "default"))
    }
    #expect(series == expected)
  }

  @Test("a recorded check increments its own series only, and its duration lands in its front's histogram")
  func recordingChecks() throws {
    let wired = try Wired()
    let start = CheckMetrics.start()
    wired.grpc.record(DecisionOutcome(kind: .allow, source: 3), started: start)
    wired.grpc.record(DecisionOutcome(kind: .allow, source: 3), started: start)
    wired.grpc.record(DecisionOutcome(kind: .rateLimited, source: 0), started: start)
    wired.grpc.record(.error, started: start)
    wired.http.record(DecisionOutcome(kind: .deny, source: 1), started: start)
    // A kind the rule cannot give, or a source past the configuration, counts nowhere.
    wired.http.record(DecisionOutcome(kind: .redirect, source: 1), started: start)
    wired.http.record(DecisionOutcome(kind: .allow, source: 42), started: start)
    let exposition = wired.exposition
    #expect(exposition.value(Self.checks("grpc", "allow", "default")) == 2)
    #expect(exposition.value(Self.checks("grpc", "rate_limited", "limited")) == 1)
    #expect(exposition.value(Self.checks("grpc", "error", "")) == 1)
    #expect(exposition.value(Self.checks("http", "deny", "1")) == 1)
    #expect(exposition.value(Self.checks("http", "allow", "default")) == 0)
    #expect(exposition.value(#"augmenter_check_duration_seconds_count{front="grpc"}"#) == 4)
    #expect(exposition.value(#"augmenter_check_duration_seconds_count{front="http"}"#) == 3)
  }

  @Test("the atomic histogram renders cumulative buckets from 5 µs to 100 ms, +Inf, sum and count")
  func histogramBuckets() throws {
    let registry = MetricsRegistry()
    let histogram = registry.atomicHistogram(
      MetricCatalog.checkDuration, ["grpc"], buckets: MetricCatalog.checkDurationBuckets)
    histogram.record(nanoseconds: 3_000)
    histogram.record(nanoseconds: 5_000)  // on a bound: counted in it (le is "less or equal")
    histogram.record(.microseconds(7))
    histogram.record(.milliseconds(200))
    let exposition = Exposition(text: registry.exposition())
    func bucket(_ le: String) -> Double? {
      exposition.value(#"augmenter_check_duration_seconds_bucket{front="grpc",le="\#(le)"}"#)
    }
    #expect(bucket("0.000005") == 2)
    #expect(bucket("0.00001") == 3)
    #expect(bucket("0.1") == 3)
    #expect(bucket("+Inf") == 4)
    #expect(exposition.value(#"augmenter_check_duration_seconds_count{front="grpc"}"#) == 4)
    let sum = try #require(exposition.value(#"augmenter_check_duration_seconds_sum{front="grpc"}"#))
    #expect(abs(sum - 0.200015) < 1e-9)
    #expect(exposition.series(of: "augmenter_check_duration_seconds_bucket").count == MetricCatalog.checkDurationBuckets.count + 1)
  }

  @Test("records from many threads at once are all counted (atomics, no lock)")
  func concurrentRecords() async throws {
    let registry = MetricsRegistry()
    let histogram = registry.atomicHistogram(
      MetricCatalog.checkDuration, ["http"], buckets: MetricCatalog.checkDurationBuckets)
    await withTaskGroup(of: Void.self) { group in
      for task in 0..<8 {
        group.addTask {
          for index in 0..<10_000 { histogram.record(nanoseconds: Int64((task * 10_000 + index) % 200_000)) }
        }
      }
    }
    let exposition = Exposition(text: registry.exposition())
    #expect(exposition.value(#"augmenter_check_duration_seconds_count{front="http"}"#) == 80_000)
    #expect(exposition.value(#"augmenter_check_duration_seconds_bucket{front="http",le="+Inf"}"#) == 80_000)
    #expect(exposition.value(#"augmenter_check_duration_seconds_bucket{front="http",le="0.00005"}"#) == 50_001, "0 to 50 µs inclusive")
  }

  @Test("provider gauges follow the state at each scrape; fetches are counted by result")
  func providerGauges() throws {
    let wired = try Wired()
    var exposition = wired.exposition
    #expect(exposition.value(#"augmenter_provider_usable{provider="sidecar"}"#) == 0)
    #expect(exposition.value(#"augmenter_provider_last_success_timestamp_seconds{provider="sidecar"}"#) == 0)
    #expect(exposition.value(#"augmenter_provider_headers_expiry_timestamp_seconds{provider="sidecar"}"#) == 0)

    let state = wired.providers.states[0]
    state.publish([HeaderField(name: "x-a", value: "1")], fetchedAt: wired.clock.now(), fetchedAtWall: wired.clock.wallNow())
    wired.providerMetrics[0].fetchFinished(.ok, duration: .milliseconds(30))
    state.recordFailure("HTTP status 503", at: wired.clock.wallNow())
    wired.providerMetrics[0].fetchFinished(.httpError, duration: .milliseconds(2))
    exposition = wired.exposition
    let wall = wired.clock.wallNow().timeIntervalSince1970
    #expect(exposition.value(#"augmenter_provider_usable{provider="sidecar"}"#) == 1)
    #expect(exposition.value(#"augmenter_provider_last_success_timestamp_seconds{provider="sidecar"}"#) == wall)
    #expect(exposition.value(#"augmenter_provider_headers_expiry_timestamp_seconds{provider="sidecar"}"#) == wall + 120)
    #expect(exposition.value(#"augmenter_provider_consecutive_failures{provider="sidecar"}"#) == 1)
    #expect(exposition.value(#"augmenter_provider_fetches_total{provider="sidecar",result="ok"}"#) == 1)
    #expect(exposition.value(#"augmenter_provider_fetches_total{provider="sidecar",result="http_error"}"#) == 1)
    #expect(exposition.value(#"augmenter_provider_fetches_total{provider="sidecar",result="timeout"}"#) == 0)
    #expect(exposition.value(#"augmenter_provider_fetch_duration_seconds_count{provider="sidecar"}"#) == 2)
    #expect(exposition.value(#"augmenter_provider_usable{provider="optional"}"#) == 0)

    wired.clock.advance(by: .seconds(121))  // past ttl + max_stale
    #expect(wired.exposition.value(#"augmenter_provider_usable{provider="sidecar"}"#) == 0)
  }

  @Test("rate-limit keys held and evicted, read from the rule's table at each scrape")
  func rateLimitKeys() throws {
    let wired = try Wired()
    let keys = #"augmenter_rate_limit_keys{rule="limited"}"#
    let evicted = #"augmenter_rate_limit_keys_evicted_total{rule="limited"}"#
    #expect(wired.exposition.value(keys) == 0)
    #expect(wired.exposition.value(evicted) == 0)
    func check(_ path: String) {
      let request = CheckRequestAttributes(method: "GET", path: path, authority: "a", scheme: "http")
      _ = wired.decider.decide(request, at: wired.clock.now())
    }
    for index in 0..<3 { check("/limited/\(index)") }
    #expect(wired.exposition.value(keys) == 3)
    // max_keys 8: eight slots, all in every key's window; the ninth and tenth keys evict.
    for index in 3..<10 { check("/limited/\(index)") }
    var exposition = wired.exposition
    #expect(exposition.value(keys) == 8)
    #expect(exposition.value(evicted) == 2)
    exposition = wired.exposition  // a second scrape adds nothing new
    #expect(exposition.value(evicted) == 2)
    wired.clock.advance(by: .seconds(2))  // every bucket full again: nothing left to remember
    #expect(wired.exposition.value(keys) == 0)
  }

  @Test("open connections go up when a protocol is known and down when the connection closes")
  func connectionsOpen() throws {
    let wired = try Wired()
    let first = wired.connections.opened(.check, .h2)
    let second = wired.connections.opened(.check, .h2)
    let admin = wired.connections.opened(.admin, .http1)
    var exposition = wired.exposition
    #expect(exposition.value(#"augmenter_connections_open{listener="check",protocol="h2"}"#) == 2)
    #expect(exposition.value(#"augmenter_connections_open{listener="admin",protocol="http1"}"#) == 1)
    #expect(exposition.value(#"augmenter_connections_open{listener="check",protocol="http1"}"#) == 0)
    first()
    admin()
    exposition = wired.exposition
    #expect(exposition.value(#"augmenter_connections_open{listener="check",protocol="h2"}"#) == 1)
    #expect(exposition.value(#"augmenter_connections_open{listener="admin",protocol="http1"}"#) == 0)
    second()
  }

  @Test("build info and configuration load")
  func buildAndConfiguration() throws {
    let exposition = try Wired().exposition
    #expect(exposition.value(#"augmenter_build_info{version="9.8.7"}"#) == 1)
    #expect(exposition.value("augmenter_config_last_reload_successful") == 1)
    #expect(exposition.value("augmenter_config_last_reload_success_timestamp_seconds") == 1_700_000_123)
  }

  @Test("no header value, URL credential or query ever appears in the exposition")
  func noSecrets() throws {
    let wired = try Wired(
      """
      providers:
        - name: sidecar
          url: http://user:pw-S3CR3T@127.0.0.1:1/h?key=Q-S3CR3T
      """)
    wired.providers.states[0].publish(
      [HeaderField(name: "authorization", value: "Bearer V-S3CR3T")], fetchedAt: wired.clock.now(),
      fetchedAtWall: wired.clock.wallNow())
    wired.providerMetrics[0].fetchFinished(.ok, duration: .milliseconds(1))
    let text = wired.registry.exposition()
    #expect(!text.contains("S3CR3T"))
    #expect(!text.contains("authorization"))
  }

  @Test("promtool check metrics accepts the exposition (a real parser and linter)")
  func promtoolAccepts() async throws {
    let wired = try Wired()
    wired.grpc.record(DecisionOutcome(kind: .allow, source: 3), started: CheckMetrics.start())
    wired.providerMetrics[0].fetchFinished(.ok, duration: .milliseconds(3))
    let promtool = try Executable.locate(
      variable: "PROMTOOL_BIN", fallback: "/usr/bin/promtool",
      hint: "install Debian's prometheus package (scripts/lib.sh ensure_tools does)")
    let result = try await Command.run(promtool, ["check", "metrics"], stdin: wired.registry.exposition(), mergingStandardError: true)
    #expect(result.status == 0 && !result.signaled, "\(result)")
    #expect(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, "promtool's lint: \(result.stdout)")
  }

  @Test("the README lists every metric")
  func readmeListsEveryMetric() throws {
    let readme = try Repository.text("README.md")
    for metric in MetricCatalog.all {
      #expect(readme.contains("`\(metric.name)`"), "README does not list \(metric.name)")
    }
  }
}
