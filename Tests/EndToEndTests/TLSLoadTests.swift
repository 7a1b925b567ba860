//===----------------------------------------------------------------------===//
// End-to-end tests: TLS: load.
//===----------------------------------------------------------------------===//

import EnvoyAPI
import Foundation
import TestCertificates
import Testing

extension EndToEnd {
  /// Issue 5: a correctness test under load over TLS (no timing assertions).
  @Suite("TLS: load")
  struct TLSLoad {
    @Test("h2load over TLS: 100,000 checks over 10 h2 connections (ALPN h2) at the check port, zero failures")
    func h2loadHundredThousandChecksOverTLS() async throws {
      try await withTestScope { scope in
        let tls = try await TLSAugmenter.start(scope: scope) { config, _, _ in
          config.providers[0].ttl = "60s"
          config.providers[0].timeout = "2s"
          config.logLevel = "info"
        }
        let body = try Messages.checkBody()

        // h2load counts any HTTP 200 as success, so first prove this body gets a real allow.
        let client = try await tls.connect(scope: scope)
        try await tls.expectAllow(on: client, "before the load")

        let run = try await H2Load.checks(
          url: "https://127.0.0.1:\(tls.augmenter.checkPort)\(GRPCPath.check)", body: body, requests: 100_000, scope: scope)
        try run.expectAllSucceeded()
        // h2load prints what its (last) TLS handshake negotiated.
        #expect(run.line("TLS Protocol:") == "TLSv1.3", "\(run.output)")
        #expect(run.line("Application protocol:") == "h2", "\(run.output)")

        // Still serving on the connection opened before the load, and on a new one.
        try await tls.expectAllow(on: client, "after the load, on the earlier connection")
        try await tls.expectServing(scope: scope, "after the load, a new connection")
        #expect(
          tls.augmenter.process.logLines(containing: "connection error").isEmpty,
          "\(tls.augmenter.process.logLines(containing: "connection error").prefix(5))")
      }
    }
  }
}
