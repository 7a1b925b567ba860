//===----------------------------------------------------------------------===//
// End-to-end tests: TLS: providers over https.
//===----------------------------------------------------------------------===//

import EnvoyAPI
import Foundation
import TestCertificates
import TestSupport
import Testing

extension EndToEnd {
  /// Issue 5: providers served over https by a private CA, with and without client certificates.
  @Suite("TLS: providers over https")
  struct TLSProviders {
    static let answer: ProviderAnswer = .headers(["authorization": "Bearer from-https-provider-77e2", "x-tenant": "acme"])

    /// Augmenter (plaintext check port) with one provider; returns it and a gRPC client.
    private static func start(scope: TestScope, provider: TestProvider, tls: ProviderTLSSettings?) async throws
      -> (AugmenterProcess, GRPCTestClient)
    {
      var config = AugmenterConfig(providers: [ProviderConfig(url: provider.url)])
      config.providers[0].tls = tls
      config.providers[0].timeout = "1s"
      let augmenter = try await AugmenterProcess.start(scope: scope, config: config)
      let client = try await GRPCTestClient.connect(port: augmenter.checkPort, scope: scope)
      return (augmenter, client)
    }

    private static func check(_ client: GRPCTestClient) async throws -> Envoy_Service_Auth_V3_CheckResponse {
      let response = try await client.unary(path: GRPCPath.check, body: try Messages.checkBody())
      #expect(response.grpcStatus == 0, "\(response)")
      return try response.message(as: Envoy_Service_Auth_V3_CheckResponse.self)
    }

    @Test("providers[].tls.ca trusts the private CA: the fetch succeeds over https and the headers are injected")
    func privateCATrusted() async throws {
      try await withTestScope { scope in
        let pki = try TestTLS.pki(scope)
        let provider = try await TestProvider.start(
          scope: scope, answer: Self.answer, tls: try TestTLS.serverConfiguration(identity: try pki.issueServer()))
        #expect(provider.url.hasPrefix("https://"))
        let (augmenter, client) = try await Self.start(scope: scope, provider: provider, tls: ProviderTLSSettings(ca: pki.caPath))
        try await augmenter.waitUntilReady()
        let check = try await Self.check(client)
        #expect(check.status.code == 0, "\(check)")
        #expect(check.okHeaders.map(\.name).sorted() == ["authorization", "x-tenant"], "\(check.okHeaders)")
        #expect(check.okHeaders.first { $0.name == "authorization" }?.value == "Bearer from-https-provider-77e2")
        #expect(provider.requestCount >= 1)
        let status = try #require(try await augmenter.status().providers.first)
        #expect(status.consecutiveFailures == 0 && status.lastError == nil, "\(status)")
      }
    }

    @Test(
      "without providers[].tls.ca the private CA is not trusted: the fetch fails with a certificate verification error and on_unavailable (deny) applies"
    )
    func privateCANotTrustedBySystemRoots() async throws {
      try await withTestScope { scope in
        let pki = try TestTLS.pki(scope)
        let provider = try await TestProvider.start(
          scope: scope, answer: Self.answer, tls: try TestTLS.serverConfiguration(identity: try pki.issueServer()))
        let (augmenter, client) = try await Self.start(scope: scope, provider: provider, tls: nil)
        let failing = try await eventually("/status to show the provider's fetch failure", timeout: .seconds(10)) {
          try await augmenter.status().providers.first.flatMap { ($0.consecutiveFailures ?? 0) >= 1 && $0.lastError != nil ? $0 : nil }
        }
        let error = (failing.lastError ?? "").lowercased()
        #expect(
          error.contains("certificate") && error.contains("verif"), "not a certificate verification error: \(failing.lastError ?? "")")
        #expect(provider.requestCount == 0, "no request may complete over an unverified connection")
        #expect(try await augmenter.readyz() == 503)
        let check = try await Self.check(client)
        #expect(check.status.code != 0, "on_unavailable deny must deny: \(check)")
        #expect(check.okHeaders.isEmpty, "\(check)")
        let log = augmenter.process.log()
        #expect(!log.contains("from-https-provider-77e2"))
      }
    }

    @Test("a provider that requires a client certificate: providers[].tls.cert and key are presented and the headers are injected")
    func providerRequiringClientCertificate() async throws {
      try await withTestScope { scope in
        let pki = try TestTLS.pki(scope)
        let provider = try await TestProvider.start(
          scope: scope, answer: Self.answer,
          tls: try TestTLS.serverConfiguration(identity: try pki.issueServer(), clientCA: pki.caPath))
        let clientIdentity = try pki.issueClient(name: "augmenter", uriSAN: "spiffe://cluster.local/ns/edge/sa/augmenter")

        // The provider really requires one: curl with the CA but no certificate gets no answer.
        let port = provider.port
        let curlOptions = ["--cacert", pki.caPath, "--resolve", "localhost:\(port):127.0.0.1", "--http1.1"]
        let refused = try await Curl.get(provider.url, options: curlOptions, scope: scope)
        #expect(refused.status == 0 && refused.exitCode != 0, "the provider answered a client without a certificate: \(refused)")

        let (augmenter, client) = try await Self.start(
          scope: scope, provider: provider,
          tls: ProviderTLSSettings(ca: pki.caPath, cert: clientIdentity.certificatePath, key: clientIdentity.keyPath))
        try await augmenter.waitUntilReady()
        let check = try await Self.check(client)
        #expect(check.status.code == 0, "\(check)")
        #expect(check.okHeaders.map(\.name).sorted() == ["authorization", "x-tenant"], "\(check.okHeaders)")
        #expect(provider.requestCount >= 1)
      }
    }
  }
}
