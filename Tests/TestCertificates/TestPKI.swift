//===----------------------------------------------------------------------===//
// Augmenter — a throwaway PKI for tests, made with the `openssl` command.
//
// Every key is generated at test time into a temporary directory; none is ever committed.
// EC P-256 keys keep generation fast (a few milliseconds each).
//===----------------------------------------------------------------------===//

import Foundation
import TestSupport

/// A certificate and its private key on disk (PEM).
public struct TestIdentity: Sendable, Hashable {
  /// The certificate (PEM), leaf only.
  public let certificatePath: String
  /// Its private key (PEM, unencrypted PKCS#8).
  public let keyPath: String
  /// The subject common name.
  public let commonName: String
  /// The serial number in upper-case hex, as `BN_bn2hex` prints it.
  public let serial: String
}

/// A failed `openssl` invocation.
public struct TestPKIError: Error, CustomStringConvertible {
  public let arguments: [String]
  public let status: Int32
  public let output: String

  public var description: String {
    "openssl \(self.arguments.joined(separator: " ")) exited with \(self.status): \(self.output)"
  }
}

/// A private certificate authority in a temporary directory that issues server and client
/// certificates.
///
/// ```swift
/// let pki = try TestPKI.create()
/// defer { pki.removeFiles() }
/// let server = try pki.issueServer()                          // CN=localhost, DNS:localhost, IP:127.0.0.1
/// let client = try pki.issueClient(name: "envoy", uriSAN: "spiffe://cluster.local/ns/a/sa/envoy")
/// // pki.caPath verifies both.
/// ```
public final class TestPKI: Sendable {
  /// The directory holding every file of this PKI.
  public let directory: String
  /// The CA certificate (PEM): the trust root for clients and the client CA bundle for servers.
  public let caPath: String
  /// The CA's private key (PEM).
  public let caKeyPath: String
  /// The CA's common name.
  public let caName: String

  private init(directory: String, caPath: String, caKeyPath: String, caName: String) {
    self.directory = directory
    self.caPath = caPath
    self.caKeyPath = caKeyPath
    self.caName = caName
  }

  /// Creates a new CA in `directory` (a fresh temporary directory when nil).
  public static func create(in directory: String? = nil, name: String = "Augmenter Test CA") throws -> TestPKI {
    let directory = directory ?? Self.makeTemporaryDirectory()
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    let base = Self.uniqueName(name)
    let config = "\(directory)/\(base).ca.cnf"
    try Self.write(
      """
      [req]
      distinguished_name = dn
      prompt = no
      [dn]
      CN = unused
      [v3_ca]
      basicConstraints = critical,CA:TRUE
      keyUsage = critical,keyCertSign,cRLSign
      subjectKeyIdentifier = hash

      """,
      to: config
    )
    let caPath = "\(directory)/\(base).ca.pem"
    let caKeyPath = "\(directory)/\(base).ca.key"
    try Self.openssl([
      "req", "-x509", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-noenc",
      "-keyout", caKeyPath, "-out", caPath, "-days", "30", "-subj", "/CN=\(name)",
      "-config", config, "-extensions", "v3_ca", "-set_serial", "0x\(Self.randomSerial())",
    ])
    return TestPKI(directory: directory, caPath: caPath, caKeyPath: caKeyPath, caName: name)
  }

  /// A server certificate: serverAuth, with the given DNS and IP subject alternative names.
  /// `expired` makes one whose notAfter is a day in the past.
  public func issueServer(
    name: String = "localhost",
    dnsNames: [String] = ["localhost"],
    ipAddresses: [String] = ["127.0.0.1"],
    expired: Bool = false
  ) throws -> TestIdentity {
    let names = dnsNames.map { "DNS:\($0)" } + ipAddresses.map { "IP:\($0)" }
    return try self.issue(name: name, extendedKeyUsage: "serverAuth", subjectAltNames: names, expired: expired)
  }

  /// A client certificate: clientAuth, with an optional URI and/or DNS subject alternative name
  /// (neither: the subject is the only identity).
  public func issueClient(
    name: String,
    uriSAN: String? = nil,
    dnsSAN: String? = nil,
    expired: Bool = false
  ) throws -> TestIdentity {
    var names: [String] = []
    if let dnsSAN { names.append("DNS:\(dnsSAN)") }
    if let uriSAN { names.append("URI:\(uriSAN)") }
    return try self.issue(name: name, extendedKeyUsage: "clientAuth", subjectAltNames: names, expired: expired)
  }

  /// Deletes the directory and everything in it.
  public func removeFiles() {
    try? FileManager.default.removeItem(atPath: self.directory)
  }

  private func issue(name: String, extendedKeyUsage: String, subjectAltNames: [String], expired: Bool) throws -> TestIdentity {
    let base = "\(self.directory)/\(Self.uniqueName(name))"
    var extensions = """
      [v3]
      basicConstraints = critical,CA:FALSE
      keyUsage = critical,digitalSignature
      extendedKeyUsage = \(extendedKeyUsage)
      subjectKeyIdentifier = hash
      authorityKeyIdentifier = keyid

      """
    if !subjectAltNames.isEmpty {
      extensions += "subjectAltName = \(subjectAltNames.joined(separator: ","))\n"
    }
    try Self.write(extensions, to: "\(base).ext")
    try Self.write("[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nCN = unused\n", to: "\(base).req.cnf")
    try Self.openssl([
      "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-noenc",
      "-keyout", "\(base).key", "-out", "\(base).csr", "-subj", "/CN=\(name)", "-config", "\(base).req.cnf",
    ])
    let serial = Self.randomSerial()
    try Self.openssl([
      "x509", "-req", "-in", "\(base).csr", "-CA", self.caPath, "-CAkey", self.caKeyPath,
      "-set_serial", "0x\(serial)", "-days", expired ? "-1" : "30",
      "-extfile", "\(base).ext", "-extensions", "v3", "-out", "\(base).pem",
    ])
    try? FileManager.default.removeItem(atPath: "\(base).csr")
    return TestIdentity(certificatePath: "\(base).pem", keyPath: "\(base).key", commonName: name, serial: serial)
  }

  // MARK: helpers

  private static func makeTemporaryDirectory() -> String {
    let base = FileManager.default.temporaryDirectory.path
    return "\(base)/augmenter-pki-\(UUID().uuidString)"
  }

  /// A file-name-safe unique stem.
  private static func uniqueName(_ name: String) -> String {
    let safe = String(name.map { $0.isLetter || $0.isNumber ? $0 : "-" }.prefix(32))
    return "\(safe)-\(UUID().uuidString.prefix(8))"
  }

  /// 16 hex digits, upper case, the first one non-zero (so BN_bn2hex prints all of them).
  private static func randomSerial() -> String {
    let value = UInt64.random(in: (1 << 60)...(UInt64.max >> 1))
    return String(value, radix: 16, uppercase: true)
  }

  private static func write(_ text: String, to path: String) throws {
    try text.write(toFile: path, atomically: true, encoding: .utf8)
  }

  /// Runs `openssl` with `arguments` and `input` on its standard input; returns its output
  /// (stdout and stderr interleaved); throws with the output when it exits non-zero or runs
  /// longer than `timeout`.
  @discardableResult
  public static func openssl(_ arguments: [String], input: String? = nil, timeout: Duration = .seconds(20)) throws -> String {
    let result = try Command.runBlocking(
      "/usr/bin/env", ["openssl"] + arguments, stdin: input, timeout: timeout, mergingStandardError: true)
    guard result.succeeded else {
      throw TestPKIError(arguments: arguments, status: result.status, output: result.stdout + result.stderr)
    }
    return result.stdout
  }
}
