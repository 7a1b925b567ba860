//===----------------------------------------------------------------------===//
// End-to-end tests: Drain: SIGTERM under load behind Envoy fails no request.
//===----------------------------------------------------------------------===//

import Foundation
import TestSupport
import Testing

extension EndToEnd {
  /// Issue 10: a rolling restart fails no request. On SIGTERM a replica reports NOT_SERVING at
  /// once but keeps serving for `drain_delay`, so Envoy's active health check moves traffic away
  /// before any connection is closed. No preStop hook is involved.
  @Suite("Drain: SIGTERM under load behind Envoy fails no request")
  struct Drain {
    /// The `health_flags` of each augmenter host in Envoy admin `/clusters`, by `host:port`.
    private static func healthFlags(_ envoy: EnvoyProcess) async throws -> [String: String] {
      let response = try await HTTP1Client.get(port: envoy.adminPort, path: "/clusters")
      var flags: [String: String] = [:]
      for line in response.text.split(separator: "\n") where line.hasPrefix("augmenter::") {
        let parts = line.components(separatedBy: "::")
        if parts.count == 4, parts[2] == "health_flags" { flags[parts[1]] = parts[3] }
      }
      return flags
    }

    @Test("two replicas and Envoy's active gRPC health check: one gets SIGTERM at ~400 req/s, zero failed requests, it exits 0")
    func sigtermUnderSteadyLoad() async throws {
      try await withTestScope("drainTwoReplicas") { scope in
        let provider = try await TestProvider.start(scope: scope, answer: .headers(["x-a": "drained"]))
        let upstream = try await EchoUpstream.start(scope: scope)
        var config = AugmenterConfig(providers: [ProviderConfig(url: provider.url)])
        config.logLevel = "info"
        // Envoy's health check runs every 1s with a 0.5s timeout: 3s covers it with a margin.
        config.extraLines = ["drain_delay: 3s"]
        let leaving = try await AugmenterProcess.start(scope: scope, config: config, name: "augmenter-leaving")
        let staying = try await AugmenterProcess.start(scope: scope, config: config, name: "augmenter-staying")
        try await leaving.waitUntilReady()
        try await staying.waitUntilReady()
        let envoy = try await EnvoyProcess.start(
          scope: scope, configFile: "ext-authz-grpc-two-replicas.yaml", augmenterPort: leaving.checkPort,
          upstreamPort: upstream.port, substitutions: ["port_value: 9192": "port_value: \(staying.checkPort)"])
        try await eventually("Envoy to mark both replicas healthy", timeout: .seconds(20), every: .milliseconds(200)) {
          let flags = try await Self.healthFlags(envoy)
          return flags.count == 2 && flags.values.allSatisfy { $0 == "healthy" } ? true : nil
        }

        // Steady load for 8s; the SIGTERM lands 2s in.
        async let load = H2Load.steady(
          url: "http://127.0.0.1:\(envoy.listenerPort)/drain", clients: 4, rps: 100, duration: .seconds(8),
          scope: scope)
        try await Task.sleep(for: .seconds(2))
        leaving.process.send(signal: SIGTERM)
        // While draining it reports NOT_SERVING but still answers: readiness is off at once.
        try await eventually("the leaving replica's /readyz to say 503", timeout: .seconds(2), every: .milliseconds(50)) {
          try await leaving.readyz() == 503 ? true : nil
        }
        let run = try await load

        let summary = try run.summary()
        #expect(run.exit == .exited(0), "h2load: \(run.output)")
        #expect(summary.done > 1000, "\(summary)")
        #expect(summary.failed == 0 && summary.errored == 0 && summary.timeout == 0, "\(summary)")
        #expect(summary.status2xx == summary.done, "every request must reach the upstream: \(summary)")
        let status = await leaving.process.waitForExit(timeout: .seconds(15))
        #expect(status == .exited(0), "\(String(describing: status))\n\(leaving.process.log().suffix(2000))")
        let log = leaving.process.log()
        #expect(log.contains("reporting NOT_SERVING, still serving during drain_delay"), "\(log.suffix(2000))")
        // Every request went through a check: the upstream saw the injected header on each. (h2load
        // does not count requests still in flight when its -D window closes, so the upstream may
        // have seen a few more than `done`.)
        let received = upstream.requests.filter { $0.uri == "/drain" }
        #expect(received.count >= summary.done, "upstream received \(received.count), h2load done \(summary.done)")
        #expect(received.allSatisfy { $0.values("x-a") == ["drained"] })
      }
    }
  }
}
