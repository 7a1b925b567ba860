//===----------------------------------------------------------------------===//
// Augmenter — TLSServerHandler over loopback against NIOSSL (BoringSSL) as the client.
//===----------------------------------------------------------------------===//

import NIOCore
import NIOSSL
import TLS
import TestCertificates
import Testing

extension TLSConnectionError {
  var handshakeError: TLSError? {
    if case .handshakeFailed(let error) = self { error } else { nil }
  }
  var isPlaintext: Bool {
    if case .plaintextOnTLSPort = self { true } else { false }
  }
  var isTimeout: Bool {
    if case .handshakeTimeout = self { true } else { false }
  }
  var isTruncated: Bool {
    if case .truncated = self { true } else { false }
  }
}

@Suite("TLSServerHandler: handshakes, ALPN, versions, data")
struct TLSServerHandlerTests {
  /// Connects with the given client configuration and returns both sides' view of the handshake.
  private func handshake(
    server: TestServer,
    client configuration: TLSConfiguration
  ) async throws -> (client: String?, server: TLSHandshakeCompleted) {
    let index = server.recorder.all.count
    let client = try await TLSTestClient.connect(port: server.port, configuration: configuration)
    let negotiated = try await client.handshake()
    let completed = try await server.recorder.handshake(index)
    try await client.expectEcho(ByteBuffer(string: "ping"))
    await client.close()
    let record = try await server.recorder.closedConnection(index)
    #expect(record.errors.isEmpty)
    #expect(!record.readBeforeHandshake, "TLSHandshakeCompleted must come before any plaintext")
    return (negotiated, completed)
  }

  @Test("ALPN: h2 and http/1.1 are selected by server preference; no ALPN offered gives none")
  func alpnSelection() async throws {
    try await TestServer.with(context: try Fixtures.serverContext()) { server in

      let h2 = try await self.handshake(server: server, client: Fixtures.clientConfiguration(applicationProtocols: ["h2"]))
      #expect(h2.client == "h2")
      #expect(h2.server.applicationProtocol == "h2")
      #expect(h2.server.protocolVersion == "TLSv1.3")
      #expect(!h2.server.cipher.isEmpty)
      #expect(h2.server.peerIdentity == nil)
      #expect(h2.server.sessionReused == false)

      let http1 = try await self.handshake(server: server, client: Fixtures.clientConfiguration(applicationProtocols: ["http/1.1"]))
      #expect(http1.client == "http/1.1")
      #expect(http1.server.applicationProtocol == "http/1.1")

      // The client prefers http/1.1, the server prefers h2: the server's order wins.
      let both = try await self.handshake(
        server: server,
        client: Fixtures.clientConfiguration(applicationProtocols: ["http/1.1", "h2"])
      )
      #expect(both.server.applicationProtocol == "h2")

      let none = try await self.handshake(server: server, client: Fixtures.clientConfiguration(applicationProtocols: []))
      #expect(none.client == nil)
      #expect(none.server.applicationProtocol == nil)
    }
  }

  @Test("ALPN without overlap fails with no_application_protocol; the server keeps serving")
  func alpnNoOverlap() async throws {
    try await TestServer.with(context: try Fixtures.serverContext()) { server in

      let client = try await TLSTestClient.connect(
        port: server.port,
        configuration: Fixtures.clientConfiguration(applicationProtocols: ["spdy/3"])
      )
      let clientError = try await client.failure()
      #expect(clientError?.contains("NO_APPLICATION_PROTOCOL") == true, "client saw: \(clientError ?? "close")")
      let record = try await server.recorder.closedConnection(0)
      let error = try #require(record.errors.first?.handshakeError)
      #expect(error.operation == "SSL_do_handshake")
      #expect(error.reasons.contains { $0.contains("no application protocol") }, "\(error)")
      #expect(record.handshake == nil)
      try await server.expectStillServing()
    }
  }

  @Test("TLS 1.2 works with the default minimum; a client capped at TLS 1.1 is refused")
  func protocolVersions() async throws {
    try await TestServer.with(context: try Fixtures.serverContext()) { server in

      let tls12 = try await self.handshake(
        server: server,
        client: Fixtures.clientConfiguration(applicationProtocols: ["h2"], maximumVersion: .tlsv12)
      )
      #expect(tls12.server.protocolVersion == "TLSv1.2")
      #expect(tls12.server.cipher.hasPrefix("ECDHE-"))
      #expect(tls12.server.applicationProtocol == "h2")

      let index = server.recorder.all.count
      let old = try await TLSTestClient.connect(
        port: server.port,
        configuration: Fixtures.clientConfiguration(minimumVersion: .tlsv1, maximumVersion: .tlsv11)
      )
      _ = try await old.failure()
      let record = try await server.recorder.closedConnection(index)
      let error = try #require(record.errors.first?.handshakeError)
      #expect(error.reasons.contains { $0.contains("unsupported protocol") }, "\(error)")
      try await server.expectStillServing()
    }
  }

  @Test("minimumVersion 1.3 refuses a client capped at TLS 1.2")
  func minimumTLS13() async throws {
    try await TestServer.with(context: try Fixtures.serverContext(minimumVersion: .tls1_3)) { server in

      let client = try await TLSTestClient.connect(
        port: server.port,
        configuration: Fixtures.clientConfiguration(maximumVersion: .tlsv12)
      )
      _ = try await client.failure()
      let record = try await server.recorder.closedConnection(0)
      let error = try #require(record.errors.first?.handshakeError)
      #expect(error.reasons.contains { $0.contains("unsupported protocol") }, "\(error)")

      let modern = try await self.handshake(server: server, client: Fixtures.clientConfiguration())
      #expect(modern.server.protocolVersion == "TLSv1.3")
    }
  }

  @Test("1 MiB and more echoes intact in both directions, across many records", arguments: [TLSVersion.tlsv12, .tlsv13])
  func largeEcho(version: TLSVersion) async throws {
    try await TestServer.with(context: try Fixtures.serverContext()) { server in

      let client = try await TLSTestClient.connect(
        port: server.port,
        configuration: Fixtures.clientConfiguration(maximumVersion: version)
      )
      _ = try await client.handshake()
      var payload = ByteBuffer()
      var generator = SystemRandomNumberGenerator()
      for _ in 0..<((1 << 20) + 12_345) / 8 {
        payload.writeInteger(generator.next() as UInt64)
      }
      try await client.expectEcho(payload)
      let record = server.recorder.all[0]
      #expect(record.received == payload.readableBytes)
      await client.close()
    }
  }
}

@Suite("TLSServerHandler: client certificates")
struct ClientCertificateTests {
  @Test("optional client CA: a client without a certificate connects, identity nil")
  func optionalWithoutCertificate() async throws {
    try await TestServer.with(context: try Fixtures.serverContext(clientCA: true)) { server in

      let client = try await TLSTestClient.connect(port: server.port, configuration: Fixtures.clientConfiguration())
      _ = try await client.handshake()
      try await client.expectEcho(ByteBuffer(string: "no cert"))
      let completed = try await server.recorder.handshake(0)
      #expect(completed.peerIdentity == nil)
      await client.close()
    }
  }

  @Test("required client certificate: a client without one fails, the server reports why")
  func requiredWithoutCertificate() async throws {
    try await TestServer.with(
      context: try Fixtures.serverContext(clientCA: true, requireClientCertificate: true)
    ) { server in

      let client = try await TLSTestClient.connect(port: server.port, configuration: Fixtures.clientConfiguration())
      // In TLS 1.3 the client finishes first and learns of the refusal from the alert after it.
      let clientError = try await client.failure()
      #expect(clientError != nil)
      #expect(client.state.snapshot.received.readableBytes == 0)
      let record = try await server.recorder.closedConnection(0)
      let error = try #require(record.errors.first?.handshakeError)
      #expect(error.reasons.contains { $0.contains("peer did not return a certificate") }, "\(error)")
      #expect(record.handshake == nil)
      try await server.expectStillServing(identity: Fixtures.clientWithDNS)
    }
  }

  @Test("a client certificate from another CA is refused")
  func foreignCertificate() async throws {
    try await TestServer.with(context: try Fixtures.serverContext(clientCA: true)) { server in

      let client = try await TLSTestClient.connect(
        port: server.port,
        configuration: Fixtures.clientConfiguration(identity: Fixtures.foreignClient)
      )
      _ = try await client.failure()
      let record = try await server.recorder.closedConnection(0)
      let error = try #require(record.errors.first?.handshakeError)
      #expect(error.reasons.contains { $0.contains("certificate verify failed") }, "\(error)")
      #expect(record.handshake == nil)
      try await server.expectStillServing()
    }
  }

  @Test(
    "identity of a verified client: URI SAN, else DNS SAN, else subject",
    arguments: [
      (Fixtures.clientWithURI, "spiffe://cluster.local/ns/edge/sa/envoy"),
      (Fixtures.clientWithDNS, "dns-client.example"),
      (Fixtures.clientWithSubject, "CN=subject-only"),
    ]
  )
  func identity(client identity: TestIdentity, expected: String) async throws {
    try await TestServer.with(
      context: try Fixtures.serverContext(clientCA: true, requireClientCertificate: true)
    ) { server in

      let client = try await TLSTestClient.connect(
        port: server.port,
        configuration: Fixtures.clientConfiguration(identity: identity)
      )
      _ = try await client.handshake()
      try await client.expectEcho(ByteBuffer(string: "who am i"))
      let completed = try await server.recorder.handshake(0)
      #expect(completed.peerIdentity == expected)
      await client.close()
    }
  }

  @Test("without a client CA no certificate is asked for, so none becomes an identity")
  func noClientCA() async throws {
    try await TestServer.with(context: try Fixtures.serverContext(clientCA: false)) { server in

      let client = try await TLSTestClient.connect(
        port: server.port,
        configuration: Fixtures.clientConfiguration(identity: Fixtures.clientWithURI)
      )
      _ = try await client.handshake()
      try await client.expectEcho(ByteBuffer(string: "x"))
      #expect(try await server.recorder.handshake(0).peerIdentity == nil)
      await client.close()
    }
  }
}
