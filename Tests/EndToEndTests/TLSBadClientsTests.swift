//===----------------------------------------------------------------------===//
// End-to-end tests: TLS: bad clients on the TLS port.
//===----------------------------------------------------------------------===//

import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS
import TestCertificates
import TestSupport
import Testing

/// What a misbehaving client sends to a TLS port, for ``EndToEnd/TLSBadClients``.
enum TLSPortAbuse: String, CaseIterable, Sendable, CustomTestStringConvertible {
  /// A plaintext HTTP/1.1 request (a client configured for http://).
  case plaintextHTTP1
  /// The HTTP/2 connection preface in plaintext (an h2c client).
  case plaintextHTTP2Preface
  /// Bytes that are neither TLS nor HTTP.
  case garbage
  /// The start of a ClientHello, then silence (handshake_timeout 1s closes it).
  case stalledClientHello
  /// A complete handshake, then half a TLS record and EOF.
  case truncatedRecordAfterHandshake

  var testDescription: String { rawValue }

  /// What Augmenter's `connection error` log line must say.
  var logFragment: String {
    switch self {
    case .plaintextHTTP1, .plaintextHTTP2Preface: "plaintext HTTP sent to a TLS port"
    case .garbage: "TLS handshake failed"
    case .stalledClientHello: "TLS handshake did not complete within 1 s"
    case .truncatedRecordAfterHandshake: "in the middle of a TLS record"
    }
  }

  /// The bytes a raw TCP connection sends (not used for the truncated record, which needs a
  /// real handshake first).
  var bytes: [UInt8] {
    switch self {
    case .plaintextHTTP1:
      Array("GET /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\naccept: */*\r\n\r\n".utf8)
    case .plaintextHTTP2Preface:
      Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8) + [0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00]
    case .garbage:
      [0x00, 0xff, 0x13, 0x37, 0x42, 0x0d, 0x0a] + (0..<200).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
    case .stalledClientHello:
      // A handshake record announcing 512 bytes (a ClientHello of 508), of which 43 arrive.
      [0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03] + Array(repeating: 0x5a, count: 32)
    case .truncatedRecordAfterHandshake:
      []
    }
  }
}

extension EndToEnd {
  /// Issue 5: garbage, plaintext and truncation on the TLS check port close that connection with
  /// a log line; nothing else is disturbed.
  @Suite("TLS: bad clients on the TLS port")
  struct TLSBadClients {
    @Test("the connection is closed and logged; a new TLS check still works", arguments: TLSPortAbuse.allCases)
    func badClientIsClosedAndLogged(_ abuse: TLSPortAbuse) async throws {
      try await withTestScope("badClient-\(abuse.rawValue)") { scope in
        let tls = try await TLSAugmenter.start(scope: scope) { config, _, _ in
          config.tls?.handshakeTimeout = "1s"
        }
        try await tls.expectServing(scope: scope, "before the bad client")
        let port = tls.augmenter.checkPort

        switch abuse {
        case .truncatedRecordAfterHandshake:
          let client = try await RawBelowTLSClient.connect(port: port, ca: tls.pki.caPath)
          #expect(client.negotiatedProtocol == "h2")
          // A TLS 1.3 application-data record header announcing 256 bytes, then 20 of them, then EOF.
          await client.writeRaw([0x17, 0x03, 0x03, 0x01, 0x00] + Array(repeating: 0xa5, count: 20), thenCloseOutput: true)
          #expect(await client.waitForClose(timeout: .seconds(10)), "the server kept the truncated connection open")
        default:
          let connection = try await RawConnection.connect(port: port, scope: scope)
          await connection.write(abuse.bytes)
          // Bounded wait (handshake_timeout is 1s for the stalled ClientHello), not a speed test.
          #expect(await connection.waitForClose(timeout: .seconds(10)), "the server kept the connection open")
          let answer = String(decoding: connection.received, as: UTF8.self)
          #expect(!answer.hasPrefix("HTTP/"), "a plaintext answer on a TLS port: \(RawHTTPResponse.printable(connection.received))")
        }

        let line = try await tls.augmenter.process.waitForLogLine(containing: "connection error", abuse.logFragment)
        #expect(line.contains("127.0.0.1"), "the log line should name the peer: \(line)")
        try await tls.expectServing(scope: scope, "a new TLS connection after the bad client")
        #expect(tls.augmenter.process.logLines(containing: "connection error").count == 1, "one bad client, one log line")
      }
    }
  }
}

/// A NIOSSL client whose pipeline starts with a handler that writes raw bytes *beneath* TLS: after
/// a real handshake it can send half a record and half-close, as a broken peer would.
final class RawBelowTLSClient: Sendable {
  private let channel: any Channel
  private let raw: NIOLoopBound<RawWriter>
  let negotiatedProtocol: String?

  private init(channel: any Channel, raw: NIOLoopBound<RawWriter>, negotiatedProtocol: String?) {
    self.channel = channel
    self.raw = raw
    self.negotiatedProtocol = negotiatedProtocol
  }

  /// Connects, completes the handshake (ALPN h2, verifying the server against `ca`) and returns.
  static func connect(port: Int, ca: String) async throws -> RawBelowTLSClient {
    let context = try NIOSSLContext(configuration: try TestTLS.clientConfiguration(ca: ca))
    let eventLoop = MultiThreadedEventLoopGroup.singleton.next()
    let handshake = eventLoop.makePromise(of: String?.self)
    let rawPromise = eventLoop.makePromise(of: NIOLoopBound<RawWriter>.self)
    let channel: any Channel
    do {
      channel = try await ClientBootstrap(group: eventLoop)
        .connectTimeout(.seconds(5))
        .channelInitializer { channel in
          channel.eventLoop.makeCompletedFuture {
            let raw = RawWriter()
            let sync = channel.pipeline.syncOperations
            try sync.addHandler(raw)
            try sync.addHandler(NIOSSLClientHandler(context: context, serverHostname: "localhost"))
            try sync.addHandler(HandshakeWatcher(promise: handshake))
            rawPromise.succeed(NIOLoopBound(raw, eventLoop: channel.eventLoop))
          }
        }
        .connect(host: "127.0.0.1", port: port)
        .get()
    } catch {
      handshake.fail(error)
      rawPromise.fail(error)
      throw error
    }
    let timeout = eventLoop.scheduleTask(in: .seconds(10)) {
      handshake.fail(TestFailure("no TLS handshake within 10 s"))
    }
    defer { timeout.cancel() }
    let negotiated: String?
    do {
      negotiated = try await handshake.futureResult.get()
    } catch {
      channel.close(promise: nil)
      throw error
    }
    return RawBelowTLSClient(channel: channel, raw: try await rawPromise.futureResult.get(), negotiatedProtocol: negotiated)
  }

  /// Writes `bytes` straight to the socket (not through TLS); then shuts the write side.
  func writeRaw(_ bytes: [UInt8], thenCloseOutput: Bool) async {
    let raw = self.raw
    try? await channel.eventLoop.submit {
      raw.value.write(bytes, thenCloseOutput: thenCloseOutput)
    }.get()
  }

  /// Waits up to `timeout` for the connection to be closed; true if it was.
  func waitForClose(timeout: Duration) async -> Bool {
    let channel = self.channel
    let closed =
      (try? await eventually("the server to close the TLS connection", timeout: timeout, every: .milliseconds(20)) {
        channel.isActive ? nil : true
      }) ?? false
    channel.close(promise: nil)
    return closed
  }
}

/// First in the pipeline: passes writes through, and can write raw bytes to the socket.
private final class RawWriter: ChannelOutboundHandler {
  typealias OutboundIn = ByteBuffer
  typealias OutboundOut = ByteBuffer
  private var context: ChannelHandlerContext?

  func handlerAdded(context: ChannelHandlerContext) { self.context = context }
  func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

  func write(_ bytes: [UInt8], thenCloseOutput: Bool) {
    guard let context else { return }
    context.writeAndFlush(wrapOutboundOut(ByteBuffer(bytes: bytes)), promise: nil)
    if thenCloseOutput { context.close(mode: .output, promise: nil) }
  }
}

/// Last in the pipeline: completes `promise` with the negotiated ALPN protocol at the handshake.
private final class HandshakeWatcher: ChannelInboundHandler {
  typealias InboundIn = ByteBuffer
  private let promise: EventLoopPromise<String?>

  init(promise: EventLoopPromise<String?>) { self.promise = promise }

  func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
    if case .handshakeCompleted(let negotiated) = event as? TLSUserEvent {
      promise.succeed(negotiated)
    }
    context.fireUserInboundEventTriggered(event)
  }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {}

  func errorCaught(context: ChannelHandlerContext, error: any Error) {
    promise.fail(error)  // a no-op once the handshake succeeded (e.g. the server's close later)
    context.close(promise: nil)
  }

  func channelInactive(context: ChannelHandlerContext) {
    promise.fail(TestFailure("the connection closed before the TLS handshake completed"))
    context.fireChannelInactive()
  }
}
