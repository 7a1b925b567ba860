//===----------------------------------------------------------------------===//
// End-to-end tests: a real Prometheus scrapes Augmenter's /metrics while checks go through Envoy.
//===----------------------------------------------------------------------===//

import Foundation
import TestSupport
import Testing

extension EndToEnd {
  /// `/metrics` read by the tool operators use: Debian's Prometheus, scraping every second.
  @Suite("Metrics scraped by Prometheus")
  struct Metrics {
    /// gRPC mode and HTTP mode against one Augmenter, so both fronts are counted.
    static func yaml(checkPort: Int, adminPort: Int, providerURL: String) -> String {
      """
      # written by the end-to-end metrics test
      listen: 127.0.0.1:\(checkPort)
      admin_listen: 127.0.0.1:\(adminPort)
      log_level: debug
      http_mode: {path_prefix: /ext-authz}
      providers:
        - name: sidecar
          url: \(providerURL)
          ttl: 1h
          timeout: 500ms
      rules:
        - name: closed
          match: {path_prefix: /admin/}
          deny: {status: 403}
        - name: limited
          match: {path_prefix: /limited/}
          rate_limit: {requests_per_second: 0.5, burst: 2}
        - match: {path_prefix: /moved/}
          redirect: {status: 302, location: "https://other.example{path}"}

      """
    }

    /// The outcome label each client-visible status stands for.
    static let outcomes = [200: "allow", 403: "deny", 429: "rate_limited", 302: "redirect"]

    @Test("Prometheus' check counters equal the requests sent, by front and outcome; provider gauges equal /status; no secret in /metrics")
    func prometheusScrapesAugmenter() async throws {
      try await withTestScope { scope in
        let provider = try await TestProvider.start(scope: scope, answer: .headers(PolicyStack.providerHeaders))
        let upstream = try await EchoUpstream.start(scope: scope)
        let augmenter = try await AugmenterProcess.start(scope: scope) {
          Self.yaml(checkPort: $0, adminPort: $1, providerURL: provider.url)
        }
        try await augmenter.waitUntilReady()
        let envoys = [
          "grpc": try await EnvoyProcess.start(
            scope: scope, configFile: "ext-authz-grpc.yaml", augmenterPort: augmenter.checkPort, upstreamPort: upstream.port,
            name: "envoy-grpc"),
          "http": try await EnvoyProcess.start(
            scope: scope, configFile: "policy-http.yaml", augmenterPort: augmenter.checkPort, upstreamPort: upstream.port,
            name: "envoy-http"),
        ]
        let prometheus = try await PrometheusProcess.start(scope: scope, targets: [augmenter.adminPort])

        // What the clients saw, by front and outcome.
        var sent: [String: [String: Int]] = [:]
        for (front, envoy) in envoys {
          for path in ["/ok/a", "/ok/b", "/ok/c", "/admin/x", "/admin/y", "/moved/z"]
            + Array(repeating: "/limited/q", count: 4)
          {
            let response = try await envoy.send(path: "\(path)?n=\(UUID().uuidString.prefix(8))")
            let outcome = try #require(Self.outcomes[response.status], "\(front) \(path): unexpected \(response)")
            sent[front, default: [:]][outcome, default: 0] += 1
          }
        }
        #expect(sent["grpc"]?["deny"] == 2 && sent["http"]?["redirect"] == 1, "\(sent)")
        #expect((sent["grpc"]?["rate_limited"] ?? 0) + (sent["http"]?["rate_limited"] ?? 0) >= 2, "\(sent)")

        // Prometheus sees the same counts once it has scraped after the last request.
        _ = try await eventually("Prometheus' augmenter_checks_total to match the requests sent \(sent)", timeout: .seconds(30)) {
          () async throws -> Bool? in
          guard try await prometheus.targetsUp() else { return nil }
          for front in ["grpc", "http"] {
            for outcome in Set(Self.outcomes.values) {
              let query = #"sum(augmenter_checks_total{front="\#(front)",outcome="\#(outcome)"})"#
              guard try await prometheus.scalar(query) == Double(sent[front]?[outcome] ?? 0) else { return nil }
            }
            let total = Double(sent[front]?.values.reduce(0, +) ?? 0)
            let durations = #"augmenter_check_duration_seconds_count{front="\#(front)"}"#
            guard try await prometheus.scalar(durations) == total else { return nil }
          }
          return true
        }
        // The deciding rule is a label: the unnamed redirect rule is its index.
        #expect(try await prometheus.scalar(#"augmenter_checks_total{front="grpc",outcome="deny",rule="closed"}"#) == 2)
        #expect(try await prometheus.scalar(#"augmenter_checks_total{front="http",outcome="redirect",rule="2"}"#) == 1)
        #expect(try await prometheus.scalar(#"augmenter_checks_total{outcome="error"} > 0"#) == nil)

        // Provider gauges equal /status (ttl 1h: the one fetch behind both stays current).
        let status = try await augmenter.admin("/status")
        let providers = try #require(status.jsonObject()?["providers"] as? [[String: Any]])
        let sidecar = try #require(providers.first)
        let lastSuccessText = try #require(sidecar["last_success"] as? String)
        let lastSuccess = try #require(ISO8601DateFormatter().date(from: lastSuccessText)).timeIntervalSince1970
        let usable = try #require(sidecar["usable"] as? Bool)
        let failures = try #require(sidecar["consecutive_failures"] as? Int)
        let scraped = try #require(
          try await prometheus.scalar(#"augmenter_provider_last_success_timestamp_seconds{provider="sidecar"}"#))
        // /status writes whole seconds.
        #expect(abs(scraped - lastSuccess) < 1, "Prometheus \(scraped), /status \(lastSuccessText)")
        #expect(try await prometheus.scalar(#"augmenter_provider_usable{provider="sidecar"}"#) == (usable ? 1 : 0))
        #expect(usable)
        #expect(try await prometheus.scalar(#"augmenter_provider_consecutive_failures{provider="sidecar"}"#) == Double(failures))
        let expiry = try #require(try await prometheus.scalar(#"augmenter_provider_headers_expiry_timestamp_seconds{provider="sidecar"}"#))
        #expect(abs(expiry - (scraped + 3600)) < 0.001, "expiry \(expiry) = fetch + ttl")
        #expect((try await prometheus.scalar(#"augmenter_provider_fetches_total{provider="sidecar",result="ok"}"#) ?? 0) >= 1)
        #expect(try await prometheus.scalar("augmenter_config_last_reload_successful") == 1)
        #expect(try await prometheus.scalar("augmenter_build_info") == 1)
        // Envoy keeps its connections to Augmenter pooled: gRPC over h2c, HTTP mode over HTTP/1.1;
        // Prometheus keeps its scrape connection to the admin port.
        for (listener, connectionProtocol) in [("check", "h2"), ("check", "http1"), ("admin", "http1")] {
          let open = #"augmenter_connections_open{listener="\#(listener)",protocol="\#(connectionProtocol)"}"#
          #expect((try await prometheus.scalar(open) ?? 0) >= 1, "\(open)")
        }

        // The provider's secret value is nowhere in the exposition.
        let metrics = try await augmenter.admin("/metrics")
        #expect(metrics.status == 200)
        #expect(metrics.text.contains("augmenter_provider_usable"), "\(metrics.text)")
        for value in PolicyStack.providerHeaders.values {
          #expect(!metrics.text.contains(value), "a provider header value is in /metrics")
          #expect(!metrics.text.contains(String(value.split(separator: " ").last ?? "")))
        }
      }
    }
  }
}
