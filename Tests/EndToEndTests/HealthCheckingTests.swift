//===----------------------------------------------------------------------===//
// End-to-end tests: gRPC health: Envoy's active health check and Watch.
//===----------------------------------------------------------------------===//

import EnvoyAPI
import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// How the provider goes away in ``EndToEnd/HealthChecking/envoyActiveHealthCheckFollowsReadiness(_:)``.
enum ProviderOutage: String, CaseIterable, Sendable, CustomTestStringConvertible {
  /// It answers 500.
  case failing
  /// It stops answering (every fetch times out).
  case silent

  var answer: ProviderAnswer {
    switch self {
    case .failing: .raw(status: 500, "provider broken", contentType: "text/plain")
    case .silent: .hang
    }
  }

  var testDescription: String { rawValue }
}

extension EndToEnd {
  /// Issue 3: gRPC health checking as Envoy and Kubernetes use it.
  @Suite("gRPC health: Envoy's active health check and Watch")
  struct HealthChecking {
    static let token = "Bearer health-1e9c"

    /// The `health_flags` of the augmenter cluster's host in Envoy admin `/clusters`.
    private static func healthFlags(_ envoy: EnvoyProcess) async throws -> String {
      let response = try await HTTP1Client.get(port: envoy.adminPort, path: "/clusters")
      guard response.status == 200 else { throw TestFailure("Envoy /clusters: \(response)") }
      let lines = response.text.split(separator: "\n").filter {
        $0.hasPrefix("augmenter::") && $0.contains("::health_flags::")
      }
      guard lines.count == 1, let flags = lines[0].components(separatedBy: "::health_flags::").last else {
        throw TestFailure("expected one augmenter host health_flags line in /clusters, got \(lines)")
      }
      return flags
    }

    @discardableResult
    private static func waitForFlags(
      _ envoy: EnvoyProcess, _ what: String, timeout: Duration = .seconds(20), _ accept: @escaping (String) -> Bool
    ) async throws -> String {
      try await eventually("Envoy to mark the augmenter host \(what)", timeout: timeout, every: .milliseconds(200)) {
        let flags = try await healthFlags(envoy)
        return accept(flags) ? flags : nil
      }
    }

    @Test(
      "ext-authz-grpc-routes.yaml: Envoy marks Augmenter healthy, failed_active_hc once readiness drops (provider gone past ttl + max_stale), healthy again; /public/ bypasses the check",
      arguments: ProviderOutage.allCases)
    func envoyActiveHealthCheckFollowsReadiness(_ outage: ProviderOutage) async throws {
      try await withTestScope("envoyActiveHealthCheck-\(outage.rawValue)") { scope in
        let stack = try await Stack.start(
          scope: scope, answer: .headers(["authorization": Self.token]), envoyConfig: "ext-authz-grpc-routes.yaml"
        ) { config in
          config.providers[0].ttl = "1s"
          config.providers[0].maxStale = "0s"
          config.providers[0].timeout = "300ms"
          config.staticHeaders = ["x-static": "static-1"]
        }
        let (provider, augmenter, envoy) = (stack.provider, stack.augmenter, stack.envoy)

        let healthy = try await Self.waitForFlags(envoy, "healthy") { $0 == "healthy" }
        #expect(healthy == "healthy")
        #expect(try await augmenter.readyz() == 200)

        // Per-route settings: /public/ skips the check (no headers injected, the client's kept);
        // /partner/ and the rest get the injected headers.
        let client = [HeaderField("authorization", "Bearer client-own")]
        let (publicResponse, publicReceived) = try await stack.send(client, label: "public")
        #expect(publicResponse.status == 200, "\(publicResponse)")
        let publicSeen = try #require(publicReceived, "/public/ did not reach the upstream: \(publicResponse)")
        #expect(publicSeen.values("authorization") == ["Bearer client-own"], "/public/ must bypass ext_authz: \(publicSeen)")
        #expect(publicSeen.values("x-static") == [], "/public/ must bypass ext_authz: \(publicSeen)")
        for label in ["partner", "other"] {
          let (response, received) = try await stack.send(client, label: label)
          #expect(response.status == 200, "/\(label)/: \(response)")
          let seen = try #require(received, "/\(label)/ did not reach the upstream: \(response)")
          #expect(seen.values("authorization") == [Self.token], "/\(label)/: \(seen)")
          #expect(seen.values("x-static") == ["static-1"], "/\(label)/: \(seen)")
        }

        // The provider goes away: past ttl 1s + max_stale 0s readiness drops, Health/Check says
        // NOT_SERVING, and Envoy marks the host failed. Envoy 1.40 does so on the FIRST
        // NOT_SERVING answer: unhealthy_threshold (2) only counts network failures (timeouts,
        // connection errors), as HealthCheckerImplBase::ActiveHealthCheckSession::setUnhealthy
        // shows; an answered NOT_SERVING is an "active" failure and takes effect at once.
        provider.setAnswer(outage.answer)
        let failed = try await Self.waitForFlags(envoy, "/failed_active_hc") { $0.contains("/failed_active_hc") }
        #expect(failed.contains("/failed_active_hc"))
        #expect(try await augmenter.readyz() == 503, "Envoy marked the host failed while /readyz is not 503")
        // One host only: Envoy's panic threshold still sends the check; on_unavailable: deny answers.
        let (partnerDenied, partnerReceived) = try await stack.send(label: "partner")
        #expect(partnerDenied.status == 503, "\(partnerDenied)")
        #expect(partnerReceived == nil)
        let (publicStill, publicStillReceived) = try await stack.send(label: "public")
        #expect(publicStill.status == 200, "/public/ does not depend on the check: \(publicStill)")
        #expect(publicStillReceived != nil)

        // The provider answers again: ready, SERVING, healthy after healthy_threshold (1) check.
        provider.setAnswer(.headers(["authorization": Self.token]))
        try await Self.waitForFlags(envoy, "healthy again") { $0 == "healthy" }
        try await stack.waitForUpstream("the injected headers again", timeout: .seconds(10)) {
          $0.values("authorization") == [Self.token]
        }

        let stats = try await EnvoyStats.fetch(adminPort: envoy.adminPort, filter: "^cluster\\.augmenter\\.health_check\\.")
        #expect((stats["cluster.augmenter.health_check.success"] ?? 0) >= 2, "\(stats)")
        #expect((stats["cluster.augmenter.health_check.failure"] ?? 0) >= 1, "\(stats)")
      }
    }

    @Test(
      "Health/Watch: NOT_SERVING at once before the provider answers, SERVING when it does; on SIGTERM NOT_SERVING, then grpc-status 0 and exit 0"
    )
    func watchFollowsReadinessAndShutdown() async throws {
      try await withTestScope { scope in
        let provider = try await TestProvider.start(
          scope: scope, answer: .raw(status: 503, "starting", contentType: "text/plain"))
        var config = AugmenterConfig(providers: [ProviderConfig(url: provider.url)])
        config.shutdownGracePeriod = "5s"
        let augmenter = try await AugmenterProcess.start(scope: scope, config: config)
        try await provider.waitForRequests(atLeast: 1)
        #expect(try await augmenter.readyz() == 503)

        let client = try await GRPCTestClient.connect(port: augmenter.checkPort, scope: scope)
        let watchPath = "/grpc.health.v1.Health/Watch"
        var watches: [(service: String, stream: GRPCServerStream)] = []
        for service in ["", "envoy.service.auth.v3.Authorization"] {
          let stream = try await client.openServerStream(path: watchPath, body: try Messages.healthBody(service: service))
          let first = try await stream.next(as: Grpc_Health_V1_HealthCheckResponse.self)
          #expect(first.status == .notServing, "Watch(\(service.debugDescription)) first message: \(first.status)")
          #expect(stream.received.httpStatus == 200, "\(stream.received)")
          #expect(stream.received.headers.values("content-type").first?.hasPrefix("application/grpc") == true, "\(stream.received)")
          #expect(!stream.received.complete, "Watch must stay open: \(stream.received)")
          watches.append((service, stream))
        }
        let unknown = try await client.openServerStream(path: watchPath, body: try Messages.healthBody(service: "no.such.Service"))
        let unknownFirst = try await unknown.next(as: Grpc_Health_V1_HealthCheckResponse.self)
        #expect(unknownFirst.status == .serviceUnknown)

        provider.setAnswer(.headers(["x-a": "ready"]))
        for (service, stream) in watches {
          let next = try await stream.next(as: Grpc_Health_V1_HealthCheckResponse.self, timeout: .seconds(15))
          #expect(next.status == .serving, "Watch(\(service.debugDescription)) after the provider answered: \(next.status)")
        }
        #expect(try await augmenter.readyz() == 200)
        #expect(!unknown.received.complete, "an unknown service's Watch stays open: \(unknown.received)")
        #expect(try unknown.messageCount() == 1, "an unknown service's status does not change: \(unknown.received)")

        augmenter.process.send(signal: SIGTERM)
        for (service, stream) in watches {
          let last = try await stream.next(as: Grpc_Health_V1_HealthCheckResponse.self)
          #expect(last.status == .notServing, "Watch(\(service.debugDescription)) on SIGTERM: \(last.status)")
          let ended = try await stream.waitForEnd(timeout: .seconds(10))
          #expect(ended.complete, "Watch(\(service.debugDescription)) must end with END_STREAM: \(ended)")
          #expect(ended.resetCode == nil, "\(ended)")
          #expect(ended.grpcStatus == 0, "Watch(\(service.debugDescription)) must end with OK: \(ended)")
          #expect(try ended.messages().count == 3, "NOT_SERVING, SERVING, NOT_SERVING: \(ended)")
        }
        let unknownEnded = try await unknown.waitForEnd(timeout: .seconds(10))
        #expect(unknownEnded.complete && unknownEnded.grpcStatus == 0, "\(unknownEnded)")

        let exit = await augmenter.process.waitForExit(timeout: .seconds(20))
        #expect(exit == .exited(0), "after SIGTERM: \(exit.map { "\($0)" } ?? "still running after 20s")")
      }
    }
  }
}
