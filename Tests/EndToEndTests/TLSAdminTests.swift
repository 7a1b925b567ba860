//===----------------------------------------------------------------------===//
// End-to-end tests: TLS: curl to the admin port.
//===----------------------------------------------------------------------===//

import Foundation
import TestCertificates
import Testing

extension EndToEnd {
  /// Issue 5: `admin_tls` on the admin port, reached with curl as operators and probes do.
  @Suite("TLS: curl to the admin port")
  struct TLSAdmin {
    /// curl options reaching `https://localhost:PORT` on 127.0.0.1, trusting only the test CA.
    static func curlOptions(port: Int, ca: String) -> [String] {
      ["--cacert", ca, "--resolve", "localhost:\(port):127.0.0.1"]
    }

    @Test("curl over TLS: ALPN http/1.1 and h2 both get /healthz 200, on the protocol curl asked for")
    func curlHTTP1AndHTTP2() async throws {
      try await withTestScope { scope in
        let tls = try await TLSAugmenter.start(scope: scope, adminProbe: .tls) { config, _, server in
          config.adminTLS = TLSListenerSettings(server)
        }
        let port = tls.augmenter.adminPort
        let url = "https://localhost:\(port)/healthz"
        for (flag, version) in [("--http1.1", "1.1"), ("--http2", "2")] {
          let result = try await Curl.get(url, options: Self.curlOptions(port: port, ca: tls.pki.caPath) + [flag], scope: scope)
          #expect(result.exitCode == 0, "\(result)")
          #expect(result.status == 200, "\(result)")
          #expect(result.httpVersion == version, "ALPN should have chosen HTTP/\(version): \(result)")
        }
        // /readyz over h2 too, the endpoint a TLS readiness probe calls.
        let ready = try await Curl.get(
          "https://localhost:\(port)/readyz", options: Self.curlOptions(port: port, ca: tls.pki.caPath) + ["--http2"], scope: scope)
        #expect(ready.status == 200 && ready.httpVersion == "2", "\(ready)")

        // The admin port no longer speaks plaintext.
        let plaintext = try await Curl.get("http://127.0.0.1:\(port)/healthz", options: ["--http1.1"], scope: scope)
        #expect(plaintext.status == 0, "plaintext HTTP must not be answered on a TLS admin port: \(plaintext)")
        try await tls.augmenter.process.waitForLogLine(containing: "connection error", "plaintext")
      }
    }

    @Test("admin_tls with require_client_cert: curl with --cert/--key gets 200, without a certificate the handshake fails")
    func curlWithAndWithoutClientCertificate() async throws {
      try await withTestScope { scope in
        // The harness's own health probes present a client certificate too.
        let tls = try await TLSAugmenter.start(scope: scope, adminProbe: .mutualTLS) { config, pki, server in
          config.adminTLS = TLSListenerSettings(server, clientCA: pki.caPath, requireClientCert: true)
        }
        let port = tls.augmenter.adminPort
        let url = "https://localhost:\(port)/healthz"
        let operatorIdentity = try tls.pki.issueClient(name: "operator", uriSAN: "spiffe://cluster.local/ns/ops/sa/operator")
        let options = Self.curlOptions(port: port, ca: tls.pki.caPath)
        for flag in ["--http1.1", "--http2"] {
          let with = try await Curl.get(
            url, options: options + [flag, "--cert", operatorIdentity.certificatePath, "--key", operatorIdentity.keyPath], scope: scope)
          #expect(with.exitCode == 0 && with.status == 200, "\(with)")
        }

        let without = try await Curl.get(url, options: options + ["--http1.1"], scope: scope)
        #expect(without.exitCode != 0, "a client without a certificate must not get a response: \(without)")
        #expect(without.status == 0, "\(without)")
        try await tls.augmenter.process.waitForLogLine(containing: "connection error", "TLS")

        // A certificate from another CA is refused too.
        let stranger = try TestTLS.pki(scope).issueClient(name: "stranger", uriSAN: "spiffe://elsewhere/sa/x")
        let foreign = try await Curl.get(
          url, options: options + ["--http1.1", "--cert", stranger.certificatePath, "--key", stranger.keyPath], scope: scope)
        #expect(foreign.exitCode != 0 && foreign.status == 0, "\(foreign)")

        #expect(try await tls.augmenter.admin("/healthz").status == 200, "still serving clients with a certificate")
      }
    }
  }
}
