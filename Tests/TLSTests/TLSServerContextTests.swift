//===----------------------------------------------------------------------===//
// Augmenter — building contexts: every bad input is a precise TLSError and leaves OpenSSL's
// error queue empty.
//===----------------------------------------------------------------------===//

import Foundation
import TestCertificates
import Testing

@testable import TLS

@Suite("TLSServerContext: validation and errors")
struct TLSServerContextTests {
  /// Builds a context expecting failure; checks the error queue was drained on this thread.
  private func expectFailure(_ configuration: TLSServerConfiguration) -> TLSError? {
    do {
      _ = try TLSServerContext(configuration: configuration)
      Issue.record("expected the context to fail")
      return nil
    } catch {
      #expect(OpenSSLErrorQueue.isEmpty, "OpenSSL's error queue must be drained into the error")
      #expect(!error.description.contains("\n"))
      return error
    }
  }

  private func temporaryFile(_ contents: String) throws -> String {
    let path = "\(Fixtures.pki.directory)/scratch-\(UUID().uuidString).pem"
    try contents.write(toFile: path, atomically: true, encoding: .utf8)
    return path
  }

  @Test("a valid pair builds; the description names subject, serial and expiry, never the key")
  func valid() throws {
    let context = try Fixtures.serverContext(clientCA: true, requireClientCertificate: true)
    #expect(OpenSSLErrorQueue.isEmpty)
    let description = context.certificateDescription
    #expect(description.hasPrefix("subject CN=localhost, serial \(Fixtures.server.serial), expires 20"))
    #expect(description.hasSuffix("Z"))
    #expect(!description.contains("PRIVATE"))
    #expect(context.configuration == Fixtures.serverConfiguration(clientCA: true, requireClientCertificate: true))
  }

  @Test("the defaults: ECDHE with AEAD only for 1.2, all AEAD suites for 1.3, h2 before http/1.1")
  func defaults() {
    let configuration = TLSServerConfiguration(certificatePath: "c", privateKeyPath: "k")
    #expect(configuration.minimumVersion == .tls1_2)
    #expect(configuration.applicationProtocols == ["h2", "http/1.1"])
    #expect(configuration.clientCAPath == nil && !configuration.requireClientCertificate)
    for cipher in TLSServerConfiguration.defaultCiphers.split(separator: ":") {
      #expect(cipher.hasPrefix("ECDHE-"))
      #expect(cipher.contains("GCM") || cipher.contains("CHACHA20"))
    }
    #expect(TLSServerConfiguration.defaultCipherSuites.split(separator: ":").count == 3)
  }

  @Test("missing certificate file: names BIO_new_file and the path")
  func missingFile() throws {
    let missing = "\(Fixtures.pki.directory)/does-not-exist.pem"
    var configuration = Fixtures.serverConfiguration()
    configuration.certificatePath = missing
    let error = try #require(self.expectFailure(configuration))
    #expect(error.operation == "BIO_new_file")
    #expect(error.detail == missing)
    #expect(error.reasons.contains { $0.contains("No such file or directory") }, "\(error)")
    #expect(error.description.hasPrefix("BIO_new_file failed (\(missing)): error:"))
  }

  @Test("missing key and client CA files name their own paths")
  func missingOtherFiles() throws {
    var configuration = Fixtures.serverConfiguration()
    configuration.privateKeyPath = "/nonexistent/key.pem"
    #expect(self.expectFailure(configuration)?.detail == "/nonexistent/key.pem")
    configuration = Fixtures.serverConfiguration(clientCA: true)
    configuration.clientCAPath = "/nonexistent/ca.pem"
    #expect(self.expectFailure(configuration)?.detail == "/nonexistent/ca.pem")
  }

  @Test("garbage instead of PEM: names the parse step, the file and OpenSSL's reason")
  func garbagePEM() throws {
    let garbage = try self.temporaryFile("this is not a certificate\n")
    var configuration = Fixtures.serverConfiguration()
    configuration.certificatePath = garbage
    let certificateError = try #require(self.expectFailure(configuration))
    #expect(certificateError.operation == "PEM_read_bio_X509")
    #expect(certificateError.detail == garbage)
    #expect(certificateError.reasons.contains { $0.contains("no start line") }, "\(certificateError)")

    configuration = Fixtures.serverConfiguration()
    configuration.privateKeyPath = garbage
    let keyError = try #require(self.expectFailure(configuration))
    #expect(keyError.operation == "PEM_read_bio_PrivateKey")
    #expect(keyError.detail == garbage)

    let empty = try self.temporaryFile("")
    configuration = Fixtures.serverConfiguration(clientCA: true)
    configuration.clientCAPath = empty
    let caError = try #require(self.expectFailure(configuration))
    #expect(caError.operation == "PEM_read_bio_X509")
    #expect(caError.detail == empty)
  }

  @Test("a key that doesn't belong to the certificate: key values mismatch, naming the key file")
  func keyMismatch() throws {
    var configuration = Fixtures.serverConfiguration()
    configuration.privateKeyPath = Fixtures.clientWithDNS.keyPath
    let error = try #require(self.expectFailure(configuration))
    // OpenSSL 3.0 compares key and certificate while installing the key.
    #expect(error.operation == "SSL_CTX_use_PrivateKey")
    #expect(error.detail == Fixtures.clientWithDNS.keyPath)
    #expect(error.reasons.contains { $0.contains("key values mismatch") }, "\(error)")
  }

  @Test("requireClientCertificate without a client CA is refused")
  func requireWithoutCA() throws {
    var configuration = Fixtures.serverConfiguration()
    configuration.requireClientCertificate = true
    let error = try #require(self.expectFailure(configuration))
    #expect(error.operation == "requireClientCertificate")
    #expect(error.reasons.first?.contains("clientCAPath") == true)
  }

  @Test("cipher strings that select nothing are refused with OpenSSL's reason")
  func badCiphers() throws {
    var configuration = Fixtures.serverConfiguration()
    configuration.ciphers = "NOT-A-CIPHER"
    let error = try #require(self.expectFailure(configuration))
    #expect(error.operation == "SSL_CTX_set_cipher_list")
    #expect(error.detail == "NOT-A-CIPHER")
    #expect(error.reasons.contains { $0.contains("no cipher match") }, "\(error)")

    configuration = Fixtures.serverConfiguration()
    configuration.cipherSuites = "TLS_NOT_A_SUITE"
    let suiteError = try #require(self.expectFailure(configuration))
    #expect(suiteError.operation == "SSL_CTX_set_ciphersuites")
  }

  @Test("ALPN names must be 1 to 255 bytes")
  func badALPN() throws {
    var configuration = Fixtures.serverConfiguration()
    configuration.applicationProtocols = ["h2", ""]
    let error = try #require(self.expectFailure(configuration))
    #expect(error.operation == "applicationProtocols")
  }

  @Test("the server options: tickets on, compression and renegotiation off")
  func serverOptions() throws {
    let context = try Fixtures.serverContext()
    #expect(context.native.hasTicketsEnabled)
    #expect(context.native.hasCompressionAndRenegotiationDisabled)
  }
}
