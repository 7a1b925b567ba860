//===----------------------------------------------------------------------===//
// End-to-end tests: Load.
//===----------------------------------------------------------------------===//

import EnvoyAPI
import Foundation
import SwiftProtobuf
import TestSupport
import Testing

extension EndToEnd {
  /// A correctness test under load (no timing assertions).
  @Suite("Load")
  struct Load {
    @Test("h2load: 100,000 checks over 10 connections straight at the check port, zero failures")
    func h2loadHundredThousandChecks() async throws {
      try await withTestScope { scope in
        let provider = try await TestProvider.start(scope: scope, answer: .headers(["x-a": "provider", "x-b": "load"]))
        var config = AugmenterConfig(providers: [ProviderConfig(url: provider.url)])
        config.providers[0].ttl = "60s"
        config.providers[0].timeout = "2s"
        config.logLevel = "info"
        let augmenter = try await AugmenterProcess.start(scope: scope, config: config)
        try await augmenter.waitUntilReady()

        // The body h2load sends: a CheckRequest like Envoy's, length-prefixed.
        let body = try Messages.checkBody()

        // h2load counts any HTTP 200 as success, so first prove this body gets a real allow.
        let client = try await GRPCTestClient.connect(port: augmenter.checkPort, scope: scope)
        let probe = try await client.unary(path: GRPCPath.check, body: body)
        #expect(probe.grpcStatus == 0, "\(probe)")
        let allow = try probe.message(as: Envoy_Service_Auth_V3_CheckResponse.self)
        #expect(allow.status.code == 0)
        #expect(allow.okHeaders.map(\.name).sorted() == ["x-a", "x-b"])

        let run = try await H2Load.checks(
          url: "http://127.0.0.1:\(augmenter.checkPort)\(GRPCPath.check)", body: body, requests: 100_000, scope: scope)
        try run.expectAllSucceeded()

        // Still serving real allows afterwards, on the connection opened before the load.
        let after = try await client.unary(path: GRPCPath.check, body: body)
        #expect(after.grpcStatus == 0, "\(after)")
        #expect(try after.message(as: Envoy_Service_Auth_V3_CheckResponse.self).okHeaders.count == 2)
        #expect(augmenter.process.isRunning)
      }
    }
  }
}
