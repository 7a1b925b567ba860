//===----------------------------------------------------------------------===//
// End-to-end tests: TLS: certificate rotation.
//===----------------------------------------------------------------------===//

import Foundation
import TestCertificates
import TestSupport
import Testing

extension EndToEnd {
  /// Issue 5: certificate rotation without restart, files swapped the way Kubernetes swaps a
  /// mounted Secret.
  @Suite("TLS: certificate rotation")
  struct TLSRotation {
    @Test(
      "rotated files: the next handshake presents the new certificate, an open connection keeps working; a bad pair is logged and the last good one kept"
    )
    func rotationKeepsConnectionsAndRejectsBadPairs() async throws {
      try await withTestScope { scope in
        let pki = try TestTLS.pki(scope)
        let first = try TestTLS.augmenterServer(pki)
        let second = try TestTLS.augmenterServer(pki)
        let secret = try MountedSecret(
          directory: scope.file("secret"), certificate: first.certificatePath, key: first.keyPath)
        let provider = try await TestProvider.start(
          scope: scope, answer: .headers([TLSAugmenter.injectedName: TLSAugmenter.injectedValue]))
        var config = AugmenterConfig(providers: [ProviderConfig(url: provider.url)])
        config.providers[0].ttl = "60s"
        var settings = TLSListenerSettings(cert: secret.certPath, key: secret.keyPath)
        settings.reloadInterval = "200ms"
        config.tls = settings
        let augmenter = try await AugmenterProcess.start(scope: scope, config: config)
        try await augmenter.waitUntilReady()
        let tls = TLSAugmenter(pki: pki, server: first, provider: provider, augmenter: augmenter)
        let port = augmenter.checkPort

        #expect(try await OpenSSLCLI.servedSerial(port: port, scope: scope) == first.serial)
        let longLived = try await tls.connect(scope: scope)
        try await tls.expectAllow(on: longLived, "before the rotation")

        // Rotate: the next handshakes present the new certificate (bounded wait, not a speed test).
        try secret.update(certificate: second.certificatePath, key: second.keyPath)
        try await eventually("s_client to see the new certificate \(second.serial)", timeout: .seconds(10), every: .milliseconds(200)) {
          try await OpenSSLCLI.servedSerial(port: port, scope: scope) == second.serial ? true : nil
        }
        try await augmenter.process.waitForLogLine(containing: "TLS certificate reloaded")
        #expect(!longLived.isClosed, "the rotation closed an established connection")
        try await tls.expectAllow(on: longLived, "the connection opened before the rotation")
        try await tls.expectServing(scope: scope, "a new connection after the rotation")

        // A bad pair (the key of another certificate): logged, the last good pair stays.
        let third = try TestTLS.augmenterServer(pki)
        let unrelated = try TestTLS.augmenterServer(pki)
        try secret.update(certificate: third.certificatePath, key: unrelated.keyPath)
        let failed = try await augmenter.process.waitForLogLine(containing: "TLS certificate reload failed")
        #expect(failed.contains("tls"), "the log line should name the listener: \(failed)")
        #expect(try await OpenSSLCLI.servedSerial(port: port, scope: scope) == second.serial)
        try await tls.expectAllow(on: longLived, "the long-lived connection after a bad pair")
        try await tls.expectServing(scope: scope, "a new connection after a bad pair")
        #expect(augmenter.process.logLines(containing: "TLS certificate reloaded").count == 1, "a bad pair must not count as reloaded")
      }
    }
  }
}
