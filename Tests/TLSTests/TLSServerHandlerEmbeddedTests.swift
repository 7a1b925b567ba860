//===----------------------------------------------------------------------===//
// Augmenter — TLSServerHandler and a NIOSSL client in two EmbeddedChannels, bytes carried by hand:
// ordering details that loopback can't pin down.
//===----------------------------------------------------------------------===//

import NIOCore
import NIOEmbedded
import NIOSSL
import TLS
import TestCertificates
import Testing

/// Writes a greeting as soon as the channel is active, i.e. before the handshake completes.
private final class Greeter: ChannelInboundHandler {
  typealias InboundIn = ByteBuffer
  typealias OutboundOut = ByteBuffer
  var errors: [any Error] = []
  var events: [String] = []

  func channelActive(context: ChannelHandlerContext) {
    context.write(self.wrapOutboundOut(ByteBuffer(string: "hello ")), promise: nil)
    context.writeAndFlush(self.wrapOutboundOut(ByteBuffer(string: "before the handshake")), promise: nil)
    context.fireChannelActive()
  }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    self.events.append("read")
    context.fireChannelRead(data)
  }

  func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
    if event is TLSHandshakeCompleted {
      self.events.append("handshake")
    }
    context.fireUserInboundEventTriggered(event)
  }

  func errorCaught(context: ChannelHandlerContext, error: any Error) {
    self.errors.append(error)
  }
}

@Suite("TLSServerHandler in EmbeddedChannels")
struct TLSServerHandlerEmbeddedTests {
  private struct Pair {
    let server: EmbeddedChannel
    let handler: TLSServerHandler
    let greeter: Greeter
    let client: EmbeddedChannel
    let clientState: TLSTestClient.State

    /// Moves bytes both ways until neither side has anything to send.
    func shuttle() throws {
      var moved = true
      while moved {
        moved = false
        while let bytes = try self.client.readOutbound(as: ByteBuffer.self) {
          if self.server.isActive { try self.server.writeInbound(bytes) }
          moved = true
        }
        while let bytes = try self.server.readOutbound(as: ByteBuffer.self) {
          if self.client.isActive { try self.client.writeInbound(bytes) }
          moved = true
        }
      }
    }
  }

  private func makePair() throws -> Pair {
    let handler = TLSServerHandler(context: try Fixtures.serverContext())
    let greeter = Greeter()
    let server = EmbeddedChannel()
    try server.pipeline.syncOperations.addHandler(handler)
    try server.pipeline.syncOperations.addHandler(greeter)
    try server.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()

    let clientState = TLSTestClient.State()
    let client = EmbeddedChannel()
    let sslContext = try NIOSSLContext(configuration: Fixtures.clientConfiguration(applicationProtocols: ["h2"]))
    try client.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: sslContext, serverHostname: "localhost"))
    try client.pipeline.syncOperations.addHandler(ClientCollector(client: clientState))
    try client.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 443)).wait()
    return Pair(server: server, handler: handler, greeter: greeter, client: client, clientState: clientState)
  }

  @Test("writes made before the handshake are held, then sent in order once it completes")
  func heldWrites() throws {
    let pair = try self.makePair()
    #expect(pair.handler.handshakeResult == nil)
    // The greeting is held: nothing leaves the server before the client said anything.
    #expect(try pair.server.readOutbound(as: ByteBuffer.self) == nil)
    try pair.shuttle()
    let result = try #require(pair.handler.handshakeResult)
    #expect(result.applicationProtocol == "h2")
    #expect(pair.clientState.snapshot.received == ByteBuffer(string: "hello before the handshake"))

    try pair.client.writeAndFlush(ByteBuffer(string: "ping")).wait()
    try pair.shuttle()
    #expect(try pair.server.readInbound(as: ByteBuffer.self) == ByteBuffer(string: "ping"))
    #expect(pair.greeter.events == ["handshake", "read"])
    #expect(pair.greeter.errors.isEmpty)
  }

  @Test("close sends close_notify: the client sees a clean shutdown, not a truncation")
  func closeNotify() throws {
    let pair = try self.makePair()
    try pair.shuttle()
    try pair.server.close().wait()
    try pair.shuttle()
    let observed = pair.clientState.snapshot
    #expect(observed.closed, "NIOSSL closes its channel when close_notify arrives")
    #expect(observed.error == nil, "without close_notify NIOSSL reports an unclean shutdown")
  }

  @Test("the sniffer waits for a whole method token before calling it plaintext")
  func plaintextSplitAcrossReads() throws {
    let handler = TLSServerHandler(context: try Fixtures.serverContext())
    let greeter = Greeter()
    let server = EmbeddedChannel()
    try server.pipeline.syncOperations.addHandler(handler)
    try server.pipeline.syncOperations.addHandler(greeter)
    try server.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
    _ = try server.readOutbound(as: ByteBuffer.self)  // nothing was sent before the handshake

    try server.writeInbound(ByteBuffer(string: "DEL"))
    #expect(server.isActive)
    #expect(greeter.errors.isEmpty)
    try server.writeInbound(ByteBuffer(string: "ETE /x HTTP/1.1\r\n\r\n"))
    #expect(greeter.errors.count == 1)
    #expect((greeter.errors.first as? TLSConnectionError)?.isPlaintext == true)
    #expect(!server.isActive)
  }

  @Test("a client that stays silent is closed by the handshake timer")
  func silentClientTimesOut() throws {
    let handler = TLSServerHandler(context: try Fixtures.serverContext(), handshakeTimeout: .seconds(3))
    let greeter = Greeter()
    let server = EmbeddedChannel()
    try server.pipeline.syncOperations.addHandler(handler)
    try server.pipeline.syncOperations.addHandler(greeter)
    try server.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
    server.embeddedEventLoop.advanceTime(by: .milliseconds(2999))
    #expect(server.isActive)
    server.embeddedEventLoop.advanceTime(by: .milliseconds(1))
    #expect(!server.isActive)
    guard case .handshakeTimeout(let amount) = greeter.errors.first as? TLSConnectionError else {
      Issue.record("expected handshakeTimeout, got \(greeter.errors)")
      return
    }
    #expect(amount == .seconds(3))
  }
}
