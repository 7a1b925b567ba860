//===----------------------------------------------------------------------===//
// End-to-end harness: a gRPC client on swift-nio-http2.
//===----------------------------------------------------------------------===//

import Foundation
import NIOCore
import NIOHPACK  // HPACKHeaders: part of swift-nio-http2, a dependency of NIOHTTP2
import NIOHTTP2
import NIOPosix
import NIOSSL
import SwiftProtobuf
import Synchronization
import TestSupport

/// What came back on one gRPC stream.
struct GRPCResponse: Sendable, CustomStringConvertible {
  /// The first HEADERS block (`:status`, `content-type`, ...; for trailers-only answers also `grpc-status`).
  var headers: [HeaderField] = []
  /// The trailing HEADERS block, when there was one.
  var trailers: [HeaderField]?
  var body: [UInt8] = []
  /// The RST_STREAM error code, when the server reset the stream.
  var resetCode: String?
  /// True when the server ended the stream (END_STREAM), false when it was reset or closed.
  var complete = false
  /// The connection's state when the response was taken (GOAWAYs seen, closed), for messages.
  var connectionNote = ""

  var httpStatus: Int? { headers.values(":status").first.flatMap { Int($0) } }
  /// `grpc-status` from the trailers, or from the headers of a trailers-only answer.
  var grpcStatus: Int? { ((trailers ?? []) + headers).values("grpc-status").first.flatMap { Int($0) } }
  var grpcMessage: String? {
    ((trailers ?? []) + headers).values("grpc-message").first.map { $0.removingPercentEncoding ?? $0 }
  }

  /// The length-prefixed messages in the body.
  func messages() throws -> [[UInt8]] { try GRPCWire.messages(in: body) }

  /// The single response message decoded as `M`.
  func message<M: SwiftProtobuf.Message>(as type: M.Type) throws -> M {
    let messages = try messages()
    guard messages.count == 1 else { throw TestFailure("expected one gRPC message, got \(messages.count): \(self)") }
    return try M(serializedBytes: messages[0])
  }

  var description: String {
    "gRPC response: headers \(headers), trailers \(trailers.map { "\($0)" } ?? "none"), \(body.count) body bytes"
      + (resetCode.map { ", reset \($0)" } ?? "") + (complete ? "" : ", INCOMPLETE") + connectionNote
  }
}

/// gRPC length-prefixed message framing (PROTOCOLS.md §6).
enum GRPCWire {
  static func frame(_ message: [UInt8], compressed: Bool = false) -> [UInt8] {
    let length = UInt32(message.count)
    return [compressed ? 1 : 0, UInt8(length >> 24), UInt8((length >> 16) & 0xff), UInt8((length >> 8) & 0xff), UInt8(length & 0xff)]
      + message
  }

  static func frame(_ message: some SwiftProtobuf.Message) throws -> [UInt8] {
    frame(try message.serializedBytes() as [UInt8])
  }

  static func messages(in body: [UInt8]) throws -> [[UInt8]] {
    var messages: [[UInt8]] = []
    var index = 0
    while index < body.count {
      guard body.count - index >= 5 else { throw TestFailure("truncated gRPC frame prefix in response") }
      let length = body[(index + 1)..<(index + 5)].reduce(0) { ($0 << 8) | Int($1) }
      guard body[index] == 0 else { throw TestFailure("compressed gRPC response frame") }
      guard body.count - index - 5 >= length else { throw TestFailure("truncated gRPC message in response") }
      messages.append(Array(body[(index + 5)..<(index + 5 + length)]))
      index += 5 + length
    }
    return messages
  }
}

/// A gRPC client over swift-nio-http2 (an HTTP/2 implementation independent of the server's
/// nghttp2): ONE prior-knowledge h2c connection (or, with a TLS configuration, one h2 connection
/// over NIOSSL) on which tests run many calls, including malformed ones (raw body bytes, any
/// content-type), and streams whose body they finish later.
final class GRPCTestClient: Sendable {
  let port: Int
  private let channel: any Channel
  private let multiplexer: NIOLoopBound<NIOHTTP2Handler.StreamMultiplexer>
  private let events: ConnectionEvents
  /// `http`, or `https` over TLS.
  private let scheme: String

  private init(
    port: Int, channel: any Channel, multiplexer: NIOLoopBound<NIOHTTP2Handler.StreamMultiplexer>,
    events: ConnectionEvents, scheme: String
  ) {
    self.port = port
    self.channel = channel
    self.multiplexer = multiplexer
    self.events = events
    self.scheme = scheme
  }

  /// Connects to 127.0.0.1:`port`: h2c with prior knowledge, or with `tls` a TLS connection
  /// (SNI and hostname verification for `serverHostname`) whose pipeline starts with NIOSSL.
  /// Give `tls` ALPN `h2` (``TestTLS/clientConfiguration(ca:identity:alpn:)`` does).
  static func connect(
    port: Int, scope: TestScope? = nil, tls: TLSConfiguration? = nil, serverHostname: String = "localhost"
  ) async throws -> GRPCTestClient {
    let sslContext = try tls.map { try NIOSSLContext(configuration: $0) }
    let events = ConnectionEvents()
    let group = MultiThreadedEventLoopGroup.singleton
    let eventLoop = group.next()
    let multiplexerPromise = eventLoop.makePromise(of: NIOLoopBound<NIOHTTP2Handler.StreamMultiplexer>.self)
    // The HTTP/2 handler must be in place before the first read (in the channel initializer):
    // otherwise the server's SETTINGS can arrive first and be dropped.
    let channel: any Channel
    do {
      channel = try await ClientBootstrap(group: eventLoop)
        .connectTimeout(.seconds(5))
        .channelInitializer { channel in
          channel.eventLoop.makeCompletedFuture {
            let sync = channel.pipeline.syncOperations
            if let sslContext {
              try sync.addHandler(NIOSSLClientHandler(context: sslContext, serverHostname: serverHostname))
            }
            let multiplexer = try sync.configureHTTP2Pipeline(
              mode: .client,
              connectionConfiguration: .init(),
              streamConfiguration: .init(),
              inboundStreamInitializer: { $0.close() })
            try sync.addHandler(ConnectionEventHandler(events: events))
            multiplexerPromise.succeed(NIOLoopBound(multiplexer, eventLoop: channel.eventLoop))
          }
        }
        .connect(host: "127.0.0.1", port: port)
        .get()
    } catch {
      multiplexerPromise.fail(error)
      throw error
    }
    let multiplexer = try await multiplexerPromise.futureResult.get()
    let client = GRPCTestClient(
      port: port, channel: channel, multiplexer: multiplexer, events: events, scheme: tls == nil ? "http" : "https")
    scope?.onTeardown("close gRPC client") { await client.close() }
    return client
  }

  /// Opens a stream and sends the request headers (no END_STREAM); the body follows via ``GRPCCall/send(_:endStream:)``.
  func openStream(
    path: String,
    contentType: String = "application/grpc",
    extraHeaders: [HeaderField] = []
  ) async throws -> GRPCCall {
    let responsePromise = channel.eventLoop.makePromise(of: GRPCResponse.self)
    do {
      let stream = try await openStreamChannel(path: path, contentType: contentType, extraHeaders: extraHeaders) {
        StreamCollector(promise: responsePromise)
      }
      return GRPCCall(stream: stream, response: responsePromise.futureResult)
    } catch {
      responsePromise.fail(error)  // a no-op if the collector already ended it
      throw error
    }
  }

  /// Opens a stream whose pipeline gets the handler `makeHandler` creates (on the stream's event
  /// loop), sends the request headers without END_STREAM and returns the stream.
  private func openStreamChannel(
    path: String, contentType: String, extraHeaders: [HeaderField],
    makeHandler: @escaping @Sendable () -> any ChannelHandler
  ) async throws -> any Channel {
    let streamPromise = channel.eventLoop.makePromise(of: (any Channel).self)
    let multiplexer = self.multiplexer
    channel.eventLoop.execute {
      multiplexer.value.createStreamChannel(promise: streamPromise) { stream in
        stream.eventLoop.makeCompletedFuture {
          try stream.pipeline.syncOperations.addHandler(makeHandler())
        }
      }
    }
    let stream = try await streamPromise.futureResult.get()
    var headers = HPACKHeaders()
    headers.add(name: ":method", value: "POST")
    headers.add(name: ":scheme", value: scheme)
    headers.add(name: ":path", value: path)
    headers.add(name: ":authority", value: "127.0.0.1:\(port)")
    headers.add(name: "content-type", value: contentType)
    headers.add(name: "te", value: "trailers")
    for field in extraHeaders { headers.add(name: field.name, value: field.value) }
    try await stream.writeAndFlush(HTTP2Frame.FramePayload.headers(.init(headers: headers, endStream: false))).get()
    return stream
  }

  /// A complete unary call: headers, `body` (raw bytes, sent as given) with END_STREAM, response.
  func unary(
    path: String,
    body: [UInt8],
    contentType: String = "application/grpc",
    extraHeaders: [HeaderField] = [],
    timeout: Duration = .seconds(10)
  ) async throws -> GRPCResponse {
    let call = try await openStream(path: path, contentType: contentType, extraHeaders: extraHeaders)
    // Not awaiting the write: a server may answer (and reset) before reading a large body.
    call.sendWithoutWaiting(body, endStream: true)
    var response = try await call.response(timeout: timeout)
    response.connectionNote = " (connection: \(goAwayCount) GOAWAY, \(isClosed ? "closed" : "open"))"
    return response
  }

  /// How many GOAWAY frames the server sent on this connection.
  var goAwayCount: Int { events.goAwayCount }
  /// Whether the TCP connection is closed.
  var isClosed: Bool { events.closed }

  func waitForGoAway(timeout: Duration) async throws {
    try await eventually("a GOAWAY from the server on the gRPC connection", timeout: timeout, every: .milliseconds(20)) {
      events.goAwayCount > 0 ? true : nil
    }
  }

  func close() async {
    try? await channel.close()
  }
}

/// One client stream: send body bytes now or later, then read the response.
final class GRPCCall: Sendable {
  private let stream: any Channel
  private let responseFuture: EventLoopFuture<GRPCResponse>

  fileprivate init(stream: any Channel, response: EventLoopFuture<GRPCResponse>) {
    self.stream = stream
    self.responseFuture = response
  }

  /// Sends `bytes` in a DATA frame (split by NIO as flow control requires) and waits until written.
  func send(_ bytes: [UInt8], endStream: Bool) async throws {
    try await stream.writeAndFlush(HTTP2Frame.FramePayload.data(.init(data: .byteBuffer(ByteBuffer(bytes: bytes)), endStream: endStream)))
      .get()
  }

  func sendWithoutWaiting(_ bytes: [UInt8], endStream: Bool) {
    stream.writeAndFlush(
      HTTP2Frame.FramePayload.data(.init(data: .byteBuffer(ByteBuffer(bytes: bytes)), endStream: endStream)),
      promise: nil)
  }

  /// The response; if none completes within `timeout` the stream is closed and this throws.
  func response(timeout: Duration = .seconds(10)) async throws -> GRPCResponse {
    let timedOut = Atomic<Bool>(false)
    let stream = self.stream
    let task = stream.eventLoop.scheduleTask(in: .nanoseconds(timeout.nanoseconds)) {
      timedOut.store(true, ordering: .relaxed)
      stream.close(promise: nil)
    }
    let response = try await responseFuture.get()
    task.cancel()
    if timedOut.load(ordering: .relaxed) && !response.complete {
      throw TestFailure("no complete gRPC response within \(timeout); got \(response)")
    }
    return response
  }
}

private final class ConnectionEvents: Sendable {
  private let goAways = Atomic<Int>(0)
  private let isClosed = Atomic<Bool>(false)

  func goAway() { goAways.add(1, ordering: .relaxed) }
  func close() { isClosed.store(true, ordering: .relaxed) }
  var goAwayCount: Int { goAways.load(ordering: .relaxed) }
  var closed: Bool { isClosed.load(ordering: .relaxed) }
}

/// Sits after the HTTP/2 handler: sees the connection-level frames (stream 0), such as GOAWAY.
private final class ConnectionEventHandler: ChannelInboundHandler {
  typealias InboundIn = HTTP2Frame

  private let events: ConnectionEvents
  init(events: ConnectionEvents) { self.events = events }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    if case .goAway = unwrapInboundIn(data).payload { events.goAway() }
  }

  func channelInactive(context: ChannelHandlerContext) {
    events.close()
    context.fireChannelInactive()
  }

  func errorCaught(context: ChannelHandlerContext, error: any Error) {
    // Stream-level errors surface here too; the per-stream collectors report outcomes.
  }
}

/// Collects one stream's response frames.
private final class StreamCollector: ChannelInboundHandler {
  typealias InboundIn = HTTP2Frame.FramePayload

  private let promise: EventLoopPromise<GRPCResponse>
  private var response = GRPCResponse()

  init(promise: EventLoopPromise<GRPCResponse>) { self.promise = promise }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    switch unwrapInboundIn(data) {
    case .headers(let headers):
      let fields = headers.headers.map { HeaderField(name: $0.name, value: $0.value) }
      if response.headers.isEmpty {
        response.headers = fields
      } else {
        response.trailers = fields
      }
      if headers.endStream { finish(complete: true) }
    case .data(let data):
      if case .byteBuffer(let buffer) = data.data {
        response.body.append(contentsOf: buffer.readableBytesView)
      }
      if data.endStream { finish(complete: true) }
    case .rstStream(let code):
      response.resetCode = "\(code)"
      finish(complete: false)
    default:
      break
    }
  }

  func channelInactive(context: ChannelHandlerContext) {
    finish(complete: false)
    context.fireChannelInactive()
  }

  func handlerRemoved(context: ChannelHandlerContext) {
    finish(complete: false)
  }

  func errorCaught(context: ChannelHandlerContext, error: any Error) {
    // e.g. a write after the server reset the stream; the outcome is what the server sent.
  }

  private func finish(complete: Bool) {
    if complete { response.complete = true }
    promise.succeed(response)
  }
}

extension GRPCTestClient {
  /// Opens a server-streaming call (e.g. `grpc.health.v1.Health/Watch`): sends the request headers
  /// and `body` with END_STREAM, and returns at once; the response frames reach the returned
  /// ``GRPCServerStream`` as they arrive (``unary(path:body:contentType:extraHeaders:timeout:)``
  /// only returns once the stream has ended).
  func openServerStream(path: String, body: [UInt8], extraHeaders: [HeaderField] = []) async throws -> GRPCServerStream {
    let frames = GRPCServerStreamFrames()
    let stream = try await openStreamChannel(path: path, contentType: "application/grpc", extraHeaders: extraHeaders) {
      GRPCServerStreamHandler(frames: frames)
    }
    try await stream.writeAndFlush(
      HTTP2Frame.FramePayload.data(.init(data: .byteBuffer(ByteBuffer(bytes: body)), endStream: true))
    ).get()
    return GRPCServerStream(stream: stream, frames: frames)
  }
}
