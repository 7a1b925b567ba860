//===----------------------------------------------------------------------===//
// Test support: one HTTP/1.1 server connection in memory, as HTTP1ServerPipeline builds it.
//===----------------------------------------------------------------------===//

package import HTTP1
import Logging
package import NIOCore
package import NIOEmbedded
package import NIOHTTP1

/// An `EmbeddedChannel` with the HTTP/1.1 server handlers (`HTTP1ServerPipeline`) and the
/// application's handler after them, connected. Bytes go in as a socket would deliver them;
/// what the server wrote comes out as text.
package final class EmbeddedHTTP1Connection {
  /// The channel; its event loop's clock moves only when the test advances it.
  package let channel = EmbeddedChannel()

  /// A connection whose requests `application` answers.
  package init(
    _ application: any ChannelHandler,
    settings: HTTP1ConnectionSettings = HTTP1ConnectionSettings(
      headTimeout: .seconds(10), bodyTimeout: .seconds(30), maxPipelinedRequests: 16)
  ) throws {
    let pipeline = self.channel.pipeline.syncOperations
    try HTTP1ServerPipeline.addHandlers(settings: settings, logger: Logger(label: "test")) { try pipeline.addHandler($0) }
    try pipeline.addHandler(application)
    try self.channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
  }

  /// What a socket read does: the bytes arrive, then auto-read asks for more (as NIO's channel
  /// does after every read), until the input gate has handed on everything. A parse error is
  /// not thrown: the server answers it (see `output()`), as it would a real client.
  package func send(_ text: String) throws {
    do {
      try self.channel.writeInbound(ByteBuffer(string: text))
    } catch is HTTPParserError {
    }
    for _ in 0...(text.utf8.count / HTTP1InputGate.defaultSliceBytes + 1) where self.channel.isActive {
      self.channel.read()
      self.channel.embeddedEventLoop.run()
    }
  }

  /// Every byte the server wrote since the last call, as text.
  package func output() throws -> String {
    var text = ""
    while var buffer = try self.channel.readOutbound(as: ByteBuffer.self) {
      text += buffer.readString(length: buffer.readableBytes) ?? ""
    }
    return text
  }

  /// Sends the quiesce event a draining server sends every connection.
  package func quiesce() {
    self.channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
    self.channel.embeddedEventLoop.run()
  }

  /// Whether the connection is still open.
  package var isOpen: Bool { self.channel.isActive }
}

/// Answers every request with 200 and its URI, keep-alive as the client asked.
package final class HTTP1URIEchoHandler: ChannelInboundHandler {
  package typealias InboundIn = HTTPServerRequestPart
  package typealias OutboundOut = HTTPServerResponsePart
  private var head: HTTPRequestHead?

  /// A handler for one connection.
  package init() {}

  package func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    switch Self.unwrapInboundIn(data) {
    case .head(let head): self.head = head
    case .body: break
    case .end:
      guard let head = self.head else { return }
      HTTP1Response.write(
        status: .ok, headers: HTTPHeaders(), body: head.uri, for: head, keepAlive: head.isKeepAlive, context: context)
    }
  }
}
