//===----------------------------------------------------------------------===//
// End-to-end harness: a provider and Augmenter with TLS on its check port.
//===----------------------------------------------------------------------===//

import EnvoyAPI
import Foundation
import NIOSSL
import TestCertificates
import TestSupport
import Testing

/// Provider (plain http) + Augmenter with TLS on its check port, certificates from a fresh test PKI.
struct TLSAugmenter: Sendable {
  /// The header the provider gives every allow in the TLS tests.
  static let injectedName = "x-injected"
  static let injectedValue = "over-tls-5c1e"

  let pki: TestPKI
  /// Augmenter's certificate (localhost, 127.0.0.1, augmenter.internal).
  let server: TestIdentity
  let provider: TestProvider
  let augmenter: AugmenterProcess

  /// How the harness reaches an `admin_tls` admin port (its health and readiness probes).
  enum AdminProbe {
    /// Plaintext (no `admin_tls`).
    case plaintext
    /// TLS, trusting the test CA.
    case tls
    /// TLS with a client certificate from the test CA (for `require_client_cert`).
    case mutualTLS
  }

  /// Starts the provider and Augmenter with `tls: {cert, key}` of ``server``; `configure` adjusts
  /// the config (more TLS settings, admin_tls, templates). Waits until ready.
  static func start(
    scope: TestScope,
    adminProbe: AdminProbe = .plaintext,
    configure: (inout AugmenterConfig, TestPKI, TestIdentity) throws -> Void = { _, _, _ in }
  ) async throws -> TLSAugmenter {
    let pki = try TestTLS.pki(scope)
    let server = try TestTLS.augmenterServer(pki)
    let provider = try await TestProvider.start(scope: scope, answer: .headers([injectedName: injectedValue]))
    var config = AugmenterConfig(providers: [ProviderConfig(url: provider.url)])
    config.tls = TLSListenerSettings(server)
    try configure(&config, pki, server)
    let adminClientTLS: TLSConfiguration? =
      switch adminProbe {
      case .plaintext: nil
      case .tls: try TestTLS.clientConfiguration(ca: pki.caPath, alpn: ["http/1.1"])
      case .mutualTLS:
        try TestTLS.clientConfiguration(
          ca: pki.caPath, identity: try pki.issueClient(name: "probe", dnsSAN: "probe.internal"), alpn: ["http/1.1"])
      }
    let augmenter = try await AugmenterProcess.start(scope: scope, config: config, adminClientTLS: adminClientTLS)
    try await augmenter.waitUntilReady()
    return TLSAugmenter(pki: pki, server: server, provider: provider, augmenter: augmenter)
  }

  /// A new h2 connection over TLS to the check port (ALPN h2, Augmenter verified against the
  /// test CA), presenting `identity` when given.
  func connect(scope: TestScope, identity: TestIdentity? = nil) async throws -> GRPCTestClient {
    try await GRPCTestClient.connect(
      port: augmenter.checkPort, scope: scope, tls: try TestTLS.clientConfiguration(ca: pki.caPath, identity: identity))
  }

  /// One Check on `client`: must be an allow carrying the provider's header.
  @discardableResult
  func expectAllow(
    on client: GRPCTestClient, _ what: String, sourceLocation: SourceLocation = #_sourceLocation
  ) async throws -> Envoy_Service_Auth_V3_CheckResponse {
    let response = try await client.unary(path: GRPCPath.check, body: try Messages.checkBody())
    #expect(response.grpcStatus == 0, "\(what): \(response)", sourceLocation: sourceLocation)
    let check = try response.message(as: Envoy_Service_Auth_V3_CheckResponse.self)
    #expect(check.status.code == 0, "\(what): not an allow: \(check)", sourceLocation: sourceLocation)
    #expect(
      check.okHeaders.filter { $0.name == Self.injectedName }.map(\.value) == [Self.injectedValue],
      "\(what): \(check.okHeaders)", sourceLocation: sourceLocation)
    return check
  }

  /// A fresh TLS connection still gets an allow, and the process is alive.
  func expectServing(scope: TestScope, identity: TestIdentity? = nil, _ what: String, sourceLocation: SourceLocation = #_sourceLocation)
    async throws
  {
    #expect(augmenter.process.isRunning, "augmenter exited (\(what))", sourceLocation: sourceLocation)
    let client = try await connect(scope: scope, identity: identity)
    try await expectAllow(on: client, what, sourceLocation: sourceLocation)
    await client.close()
  }
}

extension ChildProcess {
  /// The log lines containing every one of `fragments`.
  func logLines(containing fragments: String...) -> [Substring] {
    log().split(separator: "\n").filter { line in fragments.allSatisfy { line.contains($0) } }
  }

  /// Waits until a log line contains every one of `fragments`; returns it.
  @discardableResult
  func waitForLogLine(containing fragments: String..., timeout: Duration = .seconds(10)) async throws -> Substring {
    try await eventually("\(name) to log a line with \(fragments)", timeout: timeout) {
      log().split(separator: "\n").last { line in fragments.allSatisfy { line.contains($0) } }
    }
  }
}
