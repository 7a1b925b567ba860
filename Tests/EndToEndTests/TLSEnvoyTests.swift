//===----------------------------------------------------------------------===//
// End-to-end tests: TLS: Envoy to Augmenter.
//===----------------------------------------------------------------------===//

import Foundation
import TestCertificates
import TestSupport
import Testing

extension EndToEnd {
  /// Issue 5: the real Envoy 1.40 calls Augmenter over TLS with `envoy/ext-authz-grpc-tls.yaml`
  /// and `envoy/ext-authz-grpc-tls-client-cert.yaml` (their placeholder files replaced by the
  /// test PKI's).
  @Suite("TLS: Envoy to Augmenter")
  struct TLSEnvoy {
    /// Provider + upstream + Augmenter (TLS on its check port) + Envoy with `envoyConfig`.
    struct Stack {
      let tls: TLSAugmenter
      let upstream: EchoUpstream
      let envoy: EnvoyProcess
      /// Envoy's client certificate (URI SAN ``TestTLS/envoyIdentity``); Envoy presents it only
      /// with the client-cert example.
      let envoyClient: TestIdentity

      static func start(
        scope: TestScope, envoyConfig: String,
        configure: (inout AugmenterConfig, TestPKI, TestIdentity) throws -> Void = { _, _, _ in }
      ) async throws -> Stack {
        let upstream = try await EchoUpstream.start(scope: scope)
        let tls = try await TLSAugmenter.start(scope: scope, configure: configure)
        let envoyClient = try tls.pki.issueClient(name: "envoy", uriSAN: TestTLS.envoyIdentity)
        // The client-certificate example names Envoy's certificate and key; the other does not.
        let template = try String(
          contentsOf: TestEnvironment.envoyConfigDirectory.appendingPathComponent(envoyConfig), encoding: .utf8)
        let presentsCertificate = template.contains(EnvoyTLSExample.certificatePlaceholder)
        let envoy = try await EnvoyProcess.start(
          scope: scope, configFile: envoyConfig, augmenterPort: tls.augmenter.checkPort, upstreamPort: upstream.port,
          substitutions: EnvoyTLSExample.substitutions(ca: tls.pki.caPath, client: presentsCertificate ? envoyClient : nil))
        return Stack(tls: tls, upstream: upstream, envoy: envoy, envoyClient: envoyClient)
      }

      /// `GET /<label>/<unique>` through Envoy: the response and what reached the upstream.
      func send(_ label: String) async throws -> (response: HTTPResponse, upstream: ReceivedRequest?) {
        let path = "/\(label)/\(UUID().uuidString)"
        let response = try await envoy.send(path: path)
        return (response, upstream.request(uri: path))
      }

      /// Envoy's counters for the `augmenter` cluster (TLS and connections) and the ext_authz filter.
      func stats() async throws -> [String: Int] {
        try await EnvoyStats.fetch(
          adminPort: envoy.adminPort, filter: "^(cluster\\.augmenter\\.(ssl|upstream_cx)|http\\.ingress\\.ext_authz)")
      }
    }

    @Test(
      "TLS with ALPN h2: checks through Envoy succeed, the upstream sees the injected header, Envoy's stats show TLS handshakes and HTTP/2")
    func envoyChecksOverTLS() async throws {
      try await withTestScope { scope in
        let stack = try await Stack.start(scope: scope, envoyConfig: "ext-authz-grpc-tls.yaml")
        for index in 0..<3 {
          let (response, received) = try await stack.send("tls-\(index)")
          #expect(response.status == 200, "\(response)")
          let upstream = try #require(received, "the request did not reach the upstream: \(response)")
          #expect(upstream.values(TLSAugmenter.injectedName) == [TLSAugmenter.injectedValue])
        }

        let stats = try await stack.stats()
        let summary = stats.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: "\n")
        #expect((stats["cluster.augmenter.ssl.handshake"] ?? 0) >= 1, "no TLS handshake to Augmenter:\n\(summary)")
        #expect((stats["cluster.augmenter.upstream_cx_http2_total"] ?? 0) >= 1, "no HTTP/2 connection:\n\(summary)")
        #expect(stats["cluster.augmenter.upstream_cx_http1_total"] ?? 0 == 0, "\(summary)")
        #expect(stats["cluster.augmenter.ssl.connection_error"] ?? 0 == 0, "\(summary)")
        #expect(stats["http.ingress.ext_authz.ok"] ?? 0 >= 3, "\(summary)")
        #expect(stats["http.ingress.ext_authz.error"] ?? 0 == 0, "\(summary)")

        // Envoy offers only ALPN h2 and Augmenter refuses a handshake without a common protocol,
        // so the handshakes above agreed on h2; openssl shows the same choice.
        let alpn = try await OpenSSLCLI.sClient(
          port: stack.tls.augmenter.checkPort, servername: TestTLS.augmenterServerName,
          extra: ["-alpn", "h2", "-CAfile", stack.tls.pki.caPath])
        #expect(alpn.status == 0, "\(alpn)")
        #expect(alpn.stdout.contains("ALPN protocol: h2"), "\(alpn)")
        #expect(alpn.stdout.contains("Verify return code: 0 (ok)"), "\(alpn)")
      }
    }

    @Test(
      "mTLS with require_client_cert: Envoy presents its client certificate, checks succeed and {peer_identity} carries its URI SAN to the upstream"
    )
    func envoyChecksOverMutualTLS() async throws {
      try await withTestScope { scope in
        let stack = try await Stack.start(scope: scope, envoyConfig: "ext-authz-grpc-tls-client-cert.yaml") { config, pki, _ in
          config.tls?.clientCA = pki.caPath
          config.tls?.requireClientCert = true
          config.templateHeaders = ["x-caller": "{peer_identity}"]
        }
        for index in 0..<2 {
          let (response, received) = try await stack.send("mtls-\(index)")
          #expect(response.status == 200, "\(response)")
          let upstream = try #require(received, "the request did not reach the upstream: \(response)")
          #expect(upstream.values(TLSAugmenter.injectedName) == [TLSAugmenter.injectedValue])
          #expect(upstream.values("x-caller") == [TestTLS.envoyIdentity], "Envoy's verified identity: \(upstream)")
        }
        let stats = try await stack.stats()
        #expect((stats["cluster.augmenter.ssl.handshake"] ?? 0) >= 1, "\(stats)")
        #expect((stats["cluster.augmenter.upstream_cx_http2_total"] ?? 0) >= 1, "\(stats)")
        #expect(stats["cluster.augmenter.ssl.connection_error"] ?? 0 == 0, "\(stats)")
      }
    }

    @Test(
      "require_client_cert and Envoy without a client certificate: the check fails, Envoy fails closed, Augmenter logs the handshake failure and still serves clients with a certificate"
    )
    func envoyWithoutClientCertificateFailsClosed() async throws {
      try await withTestScope { scope in
        let stack = try await Stack.start(scope: scope, envoyConfig: "ext-authz-grpc-tls.yaml") { config, pki, _ in
          config.tls?.clientCA = pki.caPath
          config.tls?.requireClientCert = true
        }
        let (response, received) = try await stack.send("no-client-cert")
        // The example's failure policy: failure_mode_allow false, status_on_error 503.
        #expect(response.status == 503, "\(response)")
        #expect(received == nil, "a request whose check failed reached the upstream: \(String(describing: received))")
        let stats = try await stack.stats()
        #expect((stats["http.ingress.ext_authz.error"] ?? 0) >= 1, "the check did not fail as an error: \(stats)")
        #expect(stats["http.ingress.ext_authz.ok"] ?? 0 == 0, "\(stats)")
        #expect(stats["cluster.augmenter.ssl.handshake"] ?? 0 == 0, "\(stats)")

        let line = try await stack.tls.augmenter.process.waitForLogLine(containing: "connection error", "TLS handshake failed")
        #expect(line.lowercased().contains("certificate"), "the log should say a certificate was missing: \(line)")

        // A client presenting a certificate from the client CA is served.
        let client = try stack.tls.pki.issueClient(name: "other-client", uriSAN: "spiffe://cluster.local/ns/edge/sa/other")
        try await stack.tls.expectServing(scope: scope, identity: client, "a TLS client with a certificate")
      }
    }
  }
}
