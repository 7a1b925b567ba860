//===----------------------------------------------------------------------===//
// Augmenter — misbehaving clients: each gets one TLSConnectionError and a closed connection,
// and the server goes on serving others.
//===----------------------------------------------------------------------===//

import NIOCore
import NIOSSL
import TLS
import TestCertificates
import TestSupport
import Testing

/// The first bytes of a ClientHello record that announces 200 bytes and delivers 11.
private let partialClientHello: [UInt8] = [
  0x16, 0x03, 0x01, 0x00, 0xC8, 0x01, 0x00, 0x00, 0xC4, 0x03, 0x03, 0x5A, 0x5A, 0x5A, 0x5A, 0x5A,
]

@Suite("TLSServerHandler: bad clients")
struct TLSBadClientTests {
  @Test(
    "plaintext HTTP/1.1 or the HTTP/2 preface on the TLS port: plaintextOnTLSPort, closed",
    arguments: ["GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "OPTIONS * HTTP/1.1\r\n\r\n"]
  )
  func plaintext(request: String) async throws {
    try await TestServer.with(context: try Fixtures.serverContext()) { server in

      let raw = try await RawTestClient.connect(port: server.port)
      // The server may recognise plaintext from the first bytes and close before our write has
      // completed ("I/O on closed channel"): that is the behaviour under test, not a failure.
      try? await raw.send(Array(request.utf8))
      try await raw.waitClosed()
      let record = try await server.recorder.closedConnection(0)
      #expect(record.errors.count == 1)
      #expect(record.errors.first?.isPlaintext == true)
      #expect(record.errors.first?.description.contains("plaintext") == true)
      try await server.expectStillServing()
    }
  }

  @Test("garbage bytes: handshakeFailed with OpenSSL's reason, closed")
  func garbage() async throws {
    try await TestServer.with(context: try Fixtures.serverContext()) { server in

      let raw = try await RawTestClient.connect(port: server.port)
      try? await raw.send((0..<64).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 1) })
      try await raw.waitClosed()
      let record = try await server.recorder.closedConnection(0)
      #expect(record.errors.count == 1)
      let error = try #require(record.errors.first?.handshakeError)
      #expect(error.operation == "SSL_do_handshake")
      #expect(!error.reasons.isEmpty)
      try await server.expectStillServing()
    }
  }

  @Test("a partial ClientHello, then silence: closed after the handshake timeout")
  func handshakeTimeout() async throws {
    try await TestServer.with(handshakeTimeout: .milliseconds(500), context: try Fixtures.serverContext()) { server in

      let raw = try await RawTestClient.connect(port: server.port)
      // On a loaded machine the timer may fire before these bytes are sent; the outcome is the same.
      try? await raw.send(partialClientHello)
      try await raw.waitClosed()
      let record = try await server.recorder.closedConnection(0)
      #expect(record.errors.count == 1)
      #expect(record.errors.first?.isTimeout == true)
      #expect(record.errors.first?.description.contains("500 ms") == true)
      try await server.expectStillServing()
    }
  }

  @Test("EOF in the middle of the handshake: truncated; EOF before any byte: closed quietly")
  func eofDuringHandshake() async throws {
    try await TestServer.with(context: try Fixtures.serverContext()) { server in

      let partial = try await RawTestClient.connect(port: server.port)
      try await partial.send(partialClientHello)
      try await eventually("the partial ClientHello to arrive", every: .milliseconds(5)) { server.recorder.all.count == 1 ? true : nil }
      await partial.close()
      let record = try await server.recorder.closedConnection(0)
      #expect(record.errors.count == 1)
      #expect(record.errors.first?.isTruncated == true)

      let silent = try await RawTestClient.connect(port: server.port)
      try await eventually("the silent connection to be accepted", every: .milliseconds(5)) { server.recorder.all.count == 2 ? true : nil }
      await silent.close()
      #expect(try await server.recorder.closedConnection(1).errors.isEmpty)
      try await server.expectStillServing()
    }
  }

  @Test("EOF in the middle of a record after the handshake: truncated")
  func truncatedRecord() async throws {
    try await TestServer.with(context: try Fixtures.serverContext()) { server in

      let cutter = CiphertextCutter()
      let client = try await TLSTestClient.connect(port: server.port, configuration: Fixtures.clientConfiguration(), cutter: cutter)
      _ = try await client.handshake()
      _ = try await server.recorder.handshake(0)
      cutter.arm(prefix: 10)
      try? await client.channel.writeAndFlush(ByteBuffer(string: "this record will be cut"))
      let record = try await server.recorder.closedConnection(0)
      #expect(record.errors.count == 1)
      #expect(record.errors.first?.isTruncated == true)
      #expect(record.received == 0)
      try await server.expectStillServing()
    }
  }

  @Test("EOF between records (no close_notify) is not an error")
  func eofAtRecordBoundary() async throws {
    try await TestServer.with(context: try Fixtures.serverContext()) { server in

      let cutter = CiphertextCutter()
      let client = try await TLSTestClient.connect(port: server.port, configuration: Fixtures.clientConfiguration(), cutter: cutter)
      _ = try await client.handshake()
      cutter.arm(prefix: nil)
      try? await client.channel.writeAndFlush(ByteBuffer(string: "whole record"))
      let record = try await server.recorder.closedConnection(0)
      #expect(record.received == 12)
      #expect(record.errors.isEmpty)
    }
  }
}
