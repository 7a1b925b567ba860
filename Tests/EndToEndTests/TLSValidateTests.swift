//===----------------------------------------------------------------------===//
// End-to-end tests: TLS: validate and serve with TLS files.
//===----------------------------------------------------------------------===//

import Foundation
import TestCertificates
import TestSupport
import Testing

extension EndToEnd {
  /// Issue 5: `augmenter validate` and `serve` load the TLS files the way serving does. (Next to
  /// ``PolicyRecipeDocs/validateReportsKeyPaths()``, which checks validate's key paths for rules.)
  @Suite("TLS: validate and serve with TLS files")
  struct TLSValidate {
    @Test(
      "a certificate with another certificate's key: validate exits 1 and serve exits 2, both naming the key path, the key file and OpenSSL's mismatch",
      arguments: ["tls", "admin_tls"])
    func mismatchedKeyIsReported(key: String) async throws {
      try await withTestScope("mismatchedKey-\(key)") { scope in
        let pki = try TestTLS.pki(scope)
        let certificate = try pki.issueServer()
        let otherKey = try pki.issueServer().keyPath
        var config = AugmenterConfig(providers: [ProviderConfig(url: "http://127.0.0.1:9/headers")])
        var settings = TLSListenerSettings(cert: certificate.certificatePath, key: otherKey)
        settings.minVersion = "1.2"
        if key == "tls" { config.tls = settings } else { config.adminTLS = settings }
        let file = scope.file("mismatched.yaml")
        try config.yaml(checkPort: try FreePort.next(), adminPort: try FreePort.next()).write(to: file, atomically: true, encoding: .utf8)

        for (command, expected) in [("validate", Int32(1)), ("serve", Int32(2))] {
          let arguments = command == "validate" ? ["validate", file.path] : ["serve", "--config", file.path]
          let process = try ChildProcess.spawn(
            name: "\(command)-mismatched", executable: try TestEnvironment.augmenterBinary(), arguments: arguments, scope: scope)
          let status = await process.waitForExit(timeout: .seconds(30))
          let output = process.log()
          #expect(status == .exited(expected), "augmenter \(command): \(String(describing: status))\n\(output)")
          // OpenSSL 3 finds the mismatch loading the key (SSL_CTX_use_PrivateKey: "key values
          // mismatch"); SSL_CTX_check_private_key would report it the same way.
          let line = output.split(separator: "\n").first { $0.contains("key values mismatch") }
          #expect(line != nil, "augmenter \(command) does not report OpenSSL's key mismatch:\n\(output)")
          #expect(
            line?.contains("SSL_CTX_use_PrivateKey") == true || line?.contains("SSL_CTX_check_private_key") == true,
            "augmenter \(command) does not name the failing OpenSSL call:\n\(output)")
          #expect(line?.contains(otherKey) == true, "augmenter \(command) does not name the key file:\n\(output)")
          #expect(
            line?.trimmingCharacters(in: .whitespaces).hasPrefix("\(key):") == true,
            "augmenter \(command) does not name the key path \(key):\n\(output)")
          #expect(!output.contains("BEGIN"), "key material in the output:\n\(output)")
        }
      }
    }
  }
}
