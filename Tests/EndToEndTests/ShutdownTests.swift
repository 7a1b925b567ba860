//===----------------------------------------------------------------------===//
// End-to-end tests: Graceful shutdown.
//===----------------------------------------------------------------------===//

import EnvoyAPI
import Foundation
import SwiftProtobuf
import TestSupport
import Testing

extension EndToEnd {
  @Suite("Graceful shutdown")
  struct Shutdown {
    @Test(
      "SIGTERM/SIGINT with checks in flight: not ready but serving for drain_delay, then GOAWAY, no new connections, every in-flight check completes, exit 0",
      arguments: [SIGTERM, SIGINT])
    func signalDrainsInFlightChecks(signal: Int32) async throws {
      try await withTestScope("signalDrainsInFlightChecks-\(signal)") { scope in
        let provider = try await TestProvider.start(scope: scope, answer: .headers(["x-a": "provider"]))
        var config = AugmenterConfig(providers: [ProviderConfig(url: provider.url)])
        config.shutdownGracePeriod = "10s"
        config.extraLines = ["drain_delay: 2s"]
        let augmenter = try await AugmenterProcess.start(scope: scope, config: config)
        try await augmenter.waitUntilReady()

        let body = try Messages.checkBody()
        let split = body.count / 2
        let connections = [
          try await GRPCTestClient.connect(port: augmenter.checkPort, scope: scope),
          try await GRPCTestClient.connect(port: augmenter.checkPort, scope: scope),
        ]
        // Two checks per connection, each with only half its body sent.
        var inFlight: [GRPCCall] = []
        for client in connections {
          for _ in 0..<2 {
            let call = try await client.openStream(path: GRPCPath.check)
            try await call.send(Array(body[..<split]), endStream: false)
            inFlight.append(call)
          }
        }
        // A complete check on each connection, opened after the partial ones: once it is answered,
        // the server has read the partial streams' frames that came before it.
        for client in connections {
          let response = try await client.unary(path: GRPCPath.check, body: body)
          #expect(response.grpcStatus == 0, "\(response)")
        }

        augmenter.process.send(signal: signal)
        // Phase 1, drain_delay: readiness is off at once, yet a new connection is still served.
        try await eventually("/readyz to say 503 after the signal", timeout: .seconds(1), every: .milliseconds(20)) {
          try await augmenter.readyz() == 503 ? true : nil
        }
        let late = try await GRPCTestClient.connect(port: augmenter.checkPort, scope: scope)
        let lateResponse = try await late.unary(path: GRPCPath.check, body: body)
        #expect(lateResponse.grpcStatus == 0, "a check during drain_delay: \(lateResponse)")
        #expect(
          !augmenter.process.log().contains("shutting down: draining connections"),
          "GOAWAY went out before drain_delay was over")
        // Phase 2: GOAWAY on every connection.
        for client in connections {
          try await client.waitForGoAway(timeout: .seconds(5))
        }
        // Stop accepting: a new connection cannot get a check answered any more.
        try await eventually("the check port to stop serving new connections", timeout: .seconds(5)) {
          () async -> Bool? in
          guard let client = try? await GRPCTestClient.connect(port: augmenter.checkPort) else { return true }
          let response = try? await client.unary(path: GRPCPath.check, body: body, timeout: .seconds(2))
          await client.close()
          return response?.grpcStatus == 0 ? nil : true
        }
        #expect(augmenter.process.isRunning, "the process exited with checks still in flight")

        for call in inFlight {
          try await call.send(Array(body[split...]), endStream: true)
        }
        for (index, call) in inFlight.enumerated() {
          let response = try await call.response(timeout: .seconds(10))
          #expect(response.grpcStatus == 0, "in-flight check \(index): \(response)")
          let check = try response.message(as: Envoy_Service_Auth_V3_CheckResponse.self)
          #expect(check.status.code == 0)
          #expect(check.okHeaders.contains { $0.name == "x-a" && $0.value == "provider" })
        }

        let exit = await augmenter.process.waitForExit(timeout: .seconds(20))
        #expect(exit == .exited(0), "after signal \(signal): \(exit.map { "\($0)" } ?? "still running after 20s")")
      }
    }
  }
}
