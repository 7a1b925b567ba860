//===----------------------------------------------------------------------===//
// End-to-end harness: TLS configuration, certificates and clients for the tests.
//===----------------------------------------------------------------------===//

import Foundation
import NIOSSL
import Synchronization
import TestCertificates
import TestSupport

#if canImport(Glibc)
  import Glibc
#endif

/// `tls:` (check port) or `admin_tls:` (admin port) of Augmenter's configuration as the tests write it.
struct TLSListenerSettings: Sendable {
  var cert: String
  var key: String
  var clientCA: String?
  var requireClientCert = false
  var minVersion: String?
  /// A duration as written in the file (`1s`, `500ms`); nil leaves the default.
  var handshakeTimeout: String?
  var reloadInterval: String?

  init(cert: String, key: String) {
    self.cert = cert
    self.key = key
  }

  /// The certificate and key of `identity`; with `clientCA`, client certificates are verified
  /// (and with `requireClientCert` required).
  init(_ identity: TestIdentity, clientCA: String? = nil, requireClientCert: Bool = false) {
    self.cert = identity.certificatePath
    self.key = identity.keyPath
    self.clientCA = clientCA
    self.requireClientCert = requireClientCert
  }
}

/// `providers[].tls` as the tests write it.
struct ProviderTLSSettings: Sendable {
  var ca: String?
  var cert: String?
  var key: String?
}

/// The throwaway PKI of a TLS test (``TestPKI``, made with the openssl command in the test's
/// directory: removed with it, never committed) and NIOSSL configurations built from it.
enum TestTLS {
  /// The URI SAN of the client certificate Envoy presents in the TLS tests (its SPIFFE identity).
  static let envoyIdentity = "spiffe://cluster.local/ns/edge/sa/envoy"
  /// The name `envoy/ext-authz-grpc-tls*.yaml` expect in Augmenter's certificate (`sni` and the
  /// SAN match).
  static let augmenterServerName = "augmenter.internal"

  /// A new CA in `<test directory>/pki`.
  static func pki(_ scope: TestScope) throws -> TestPKI {
    try TestPKI.create(in: scope.file("pki").path)
  }

  /// A server certificate for Augmenter: `localhost`, 127.0.0.1 and the name the Envoy examples use.
  static func augmenterServer(_ pki: TestPKI) throws -> TestIdentity {
    try pki.issueServer(dnsNames: ["localhost", augmenterServerName])
  }

  /// A client configuration trusting only `ca` (full verification), presenting `identity` when
  /// given, offering `alpn`.
  static func clientConfiguration(ca: String, identity: TestIdentity? = nil, alpn: [String] = ["h2"]) throws -> TLSConfiguration {
    var configuration = TLSConfiguration.makeClientConfiguration()
    configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(ca))
    configuration.applicationProtocols = alpn
    if let identity {
      configuration.certificateChain = try NIOSSLCertificate.fromPEMFile(identity.certificatePath).map { .certificate($0) }
      configuration.privateKey = .privateKey(try NIOSSLPrivateKey(file: identity.keyPath, format: .pem))
    }
    return configuration
  }

  /// A server configuration presenting `identity`; with `clientCA`, a client certificate issued
  /// by it is required.
  static func serverConfiguration(identity: TestIdentity, clientCA: String? = nil, alpn: [String] = ["http/1.1"]) throws
    -> TLSConfiguration
  {
    var configuration = TLSConfiguration.makeServerConfiguration(
      certificateChain: try NIOSSLCertificate.fromPEMFile(identity.certificatePath).map { .certificate($0) },
      privateKey: .privateKey(try NIOSSLPrivateKey(file: identity.keyPath, format: .pem)))
    configuration.applicationProtocols = alpn
    if let clientCA {
      configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(clientCA))
      configuration.certificateVerification = .noHostnameVerification
    }
    return configuration
  }
}

/// The `openssl` command line (`OPENSSL_BIN`, else /usr/bin/openssl): `s_client` shows which
/// certificate a port serves, as an operator would check it.
enum OpenSSLCLI {
  static func binary() throws -> String {
    try Executable.locate(
      variable: "OPENSSL_BIN", fallback: "/usr/bin/openssl", hint: "install Debian's openssl or set OPENSSL_BIN")
  }

  /// `openssl s_client -connect 127.0.0.1:PORT -servername NAME </dev/null` plus `extra` (at most
  /// 20 s), its standard error interleaved in `stdout`.
  static func sClient(port: Int, servername: String = "localhost", extra: [String] = []) async throws -> CommandResult {
    try await Command.run(
      try binary(), ["s_client", "-connect", "127.0.0.1:\(port)", "-servername", servername] + extra,
      timeout: .seconds(20), mergingStandardError: true)
  }

  /// The serial number (upper-case hex, as ``TestIdentity/serial``) of the certificate the port
  /// serves now: `s_client`'s certificate through `openssl x509 -noout -serial`.
  static func servedSerial(port: Int, scope: TestScope) async throws -> String {
    let result = try await sClient(port: port)
    guard result.status == 0,
      let begin = result.stdout.range(of: "-----BEGIN CERTIFICATE-----"),
      let end = result.stdout.range(of: "-----END CERTIFICATE-----", range: begin.upperBound..<result.stdout.endIndex)
    else {
      throw TestFailure("s_client shows no certificate: \(result)")
    }
    let pem = scope.file("served-\(UUID().uuidString.prefix(8)).pem")
    try (String(result.stdout[begin.lowerBound..<end.upperBound]) + "\n").write(to: pem, atomically: true, encoding: .utf8)
    defer { try? FileManager.default.removeItem(at: pem) }
    let x509 = try await Command.run(
      try binary(), ["x509", "-in", pem.path, "-noout", "-serial"], timeout: .seconds(20), mergingStandardError: true)
    guard x509.status == 0, let line = x509.stdout.split(separator: "\n").first(where: { $0.hasPrefix("serial=") }) else {
      throw TestFailure("openssl x509 -serial: \(x509)")
    }
    return String(line.dropFirst("serial=".count)).uppercased()
  }
}

/// A certificate and key mounted the way Kubernetes mounts a Secret: `tls.crt` and `tls.key` are
/// symlinks into `..data`, itself a symlink to a timestamped directory. ``update(certificate:key:)``
/// rotates like the kubelet does: writes a new directory, then renames a new `..data` link over the
/// old one, so a reader sees either the old pair or the new pair, never a mix.
final class MountedSecret: Sendable {
  let directory: URL
  var certPath: String { directory.appendingPathComponent("tls.crt").path }
  var keyPath: String { directory.appendingPathComponent("tls.key").path }

  init(directory: URL, certificate: String, key: String) throws {
    self.directory = directory
    let files = FileManager.default
    try files.createDirectory(at: directory, withIntermediateDirectories: true)
    try update(certificate: certificate, key: key)
    try files.createSymbolicLink(atPath: certPath, withDestinationPath: "..data/tls.crt")
    try files.createSymbolicLink(atPath: keyPath, withDestinationPath: "..data/tls.key")
  }

  /// Copies `certificate` and `key` (paths) into a new version directory and swaps `..data` to it.
  func update(certificate: String, key: String) throws {
    let files = FileManager.default
    let version = "..\(UUID().uuidString.prefix(12))"
    let versionURL = directory.appendingPathComponent(version)
    try files.createDirectory(at: versionURL, withIntermediateDirectories: false)
    try files.copyItem(atPath: certificate, toPath: versionURL.appendingPathComponent("tls.crt").path)
    try files.copyItem(atPath: key, toPath: versionURL.appendingPathComponent("tls.key").path)
    let temporary = directory.appendingPathComponent("..data_tmp").path
    try? files.removeItem(atPath: temporary)
    try files.createSymbolicLink(atPath: temporary, withDestinationPath: version)
    guard rename(temporary, directory.appendingPathComponent("..data").path) == 0 else {
      throw TestFailure("rename ..data_tmp over ..data: errno \(errno)")
    }
  }
}

/// The TLS Envoy examples in `envoy/` name their files with readable placeholder paths; the tests
/// (and the validation test) substitute the test PKI's files.
enum EnvoyTLSExample {
  /// The CA that verifies Augmenter's certificate.
  static let caPlaceholder = "/etc/envoy/tls/ca.crt"
  /// Envoy's client certificate and key (the mTLS example).
  static let certificatePlaceholder = "/etc/envoy/tls/client.crt"
  static let keyPlaceholder = "/etc/envoy/tls/client.key"

  /// Substitutions for ``EnvoyProcess/start(scope:configFile:augmenterPort:upstreamPort:substitutions:name:)``.
  static func substitutions(ca: String, client: TestIdentity? = nil) -> [String: String] {
    var values = [caPlaceholder: ca]
    if let client {
      values[certificatePlaceholder] = client.certificatePath
      values[keyPlaceholder] = client.keyPath
    }
    return values
  }

  /// The path `envoy --mode validate` should check for `envoy/<file>`: the file itself, or, when it
  /// names the placeholder paths (Envoy reads those files while validating), a copy in the
  /// test's directory with real test files in their place.
  static func validationPath(of file: String, scope: TestScope) throws -> String {
    let url = TestEnvironment.envoyConfigDirectory.appendingPathComponent(file)
    let text = try String(contentsOf: url, encoding: .utf8)
    guard text.contains("/etc/envoy/tls/") else { return url.path }
    let pki = try TestTLS.pki(scope)
    let client = try pki.issueClient(name: "envoy", uriSAN: TestTLS.envoyIdentity)
    var rendered = text
    for (placeholder, path) in substitutions(ca: pki.caPath, client: client) {
      rendered = rendered.replacingOccurrences(of: placeholder, with: path)
    }
    let copy = scope.file("validate-\(file)")
    try rendered.write(to: copy, atomically: true, encoding: .utf8)
    return copy.path
  }
}
