//===----------------------------------------------------------------------===//
// End-to-end harness: small in-process HTTP/1.1 servers (providers, upstreams).
//===----------------------------------------------------------------------===//

import AugmenterServer  // ConnectionTracker: the server's own, keeping accepted channels until they close
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import TestSupport

/// A request one of the in-process servers received.
struct ReceivedRequest: Sendable, CustomStringConvertible {
  var method: String
  var uri: String
  var headers: [HeaderField]
  var body: [UInt8]
  /// When the request was complete (wall clock: tests compare it with token `exp` claims).
  var receivedAt = Date()

  func values(_ name: String) -> [String] { headers.values(name) }
  var description: String { "\(method) \(uri) \(headers)" }
}

/// The shared plumbing of ``EchoUpstream`` and ``TestProvider``: an HTTP/1.1 server on a free
/// loopback port that hands each complete request to a responder and tracks its connections so
/// `stop()` closes them all (a hung request must not outlive the test). With a TLS configuration
/// it serves HTTPS (NIOSSL in front of the HTTP/1.1 handlers).
final class HTTP1TestServer: Sendable {
  /// Answers one request: call `respond` (now or later, from the event loop) or never.
  typealias Responder =
    @Sendable (
      ReceivedRequest, _ respond: @escaping @Sendable (HTTPResponseStatus, [HeaderField], [UInt8]) -> Void, _ eventLoop: any EventLoop
    ) -> Void

  let port: Int
  private let serverChannel: any Channel
  private let connections: ConnectionTracker

  private init(port: Int, serverChannel: any Channel, connections: ConnectionTracker) {
    self.port = port
    self.serverChannel = serverChannel
    self.connections = connections
  }

  static func start(
    name: String, scope: TestScope, tls: TLSConfiguration? = nil, responder: @escaping Responder
  ) async throws -> HTTP1TestServer {
    let connections = ConnectionTracker()
    let sslContext = try tls.map { try NIOSSLContext(configuration: $0) }
    let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
      .serverChannelOption(.backlog, value: 256)
      .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
      .childChannelInitializer { channel in
        connections.add(channel)
        return channel.eventLoop.makeCompletedFuture {
          if let sslContext {
            try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: sslContext))
          }
          try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
          try channel.pipeline.syncOperations.addHandler(RequestHandler(responder: responder))
        }
      }
      .bind(host: "127.0.0.1", port: 0)
      .get()
    guard let port = channel.localAddress?.port else {
      throw TestFailure("\(name): no local port after bind")
    }
    let server = HTTP1TestServer(port: port, serverChannel: channel, connections: connections)
    scope.onTeardown("stop \(name)") { await server.stop() }
    return server
  }

  func stop() async {
    try? await serverChannel.close()
    for channel in connections.open {
      try? await channel.close()
    }
  }
}

private final class RequestHandler: ChannelInboundHandler {
  typealias InboundIn = HTTPServerRequestPart
  typealias OutboundOut = HTTPServerResponsePart

  private let responder: HTTP1TestServer.Responder
  private var head: HTTPRequestHead?
  private var body: [UInt8] = []

  init(responder: @escaping HTTP1TestServer.Responder) { self.responder = responder }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    switch unwrapInboundIn(data) {
    case .head(let head):
      self.head = head
      body = []
    case .body(let buffer):
      body.append(contentsOf: buffer.readableBytesView)
    case .end:
      guard let head else { return }
      self.head = nil
      let request = ReceivedRequest(
        method: head.method.rawValue,
        uri: head.uri,
        headers: head.headers.map { HeaderField(name: $0.name.lowercased(), value: $0.value) },
        body: body)
      let keepAlive = head.isKeepAlive
      let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
      let eventLoop = context.eventLoop
      responder(
        request,
        { status, headers, body in
          eventLoop.execute {
            let (handler, context) = loopBound.value
            handler.write(context: context, status: status, headers: headers, body: body, keepAlive: keepAlive)
          }
        }, eventLoop)
    }
  }

  private func write(
    context: ChannelHandlerContext, status: HTTPResponseStatus, headers: [HeaderField], body: [UInt8], keepAlive: Bool
  ) {
    guard context.channel.isActive else { return }
    var head = HTTPResponseHead(version: .http1_1, status: status)
    for field in headers { head.headers.add(name: field.name, value: field.value) }
    // A responder that sets `transfer-encoding: chunked` gets a body without a length, sent
    // in two chunks with a flush between (NIO's encoder frames them).
    let chunked = head.headers["transfer-encoding"].contains("chunked")
    if !chunked { head.headers.replaceOrAdd(name: "content-length", value: String(body.count)) }
    if !keepAlive { head.headers.replaceOrAdd(name: "connection", value: "close") }
    context.write(wrapOutboundOut(.head(head)), promise: nil)
    if chunked, body.count > 1 {
      let half = body.count / 2
      context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: body[..<half])))), promise: nil)
      context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: body[half...])))), promise: nil)
    } else {
      context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: body)))), promise: nil)
    }
    let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
    if !keepAlive {
      let channel = context.channel
      done.whenComplete { _ in channel.close(promise: nil) }
    }
  }
}
