//===----------------------------------------------------------------------===//
// Augmenter — the NIO handler that runs one nghttp2 server session per connection.
//===----------------------------------------------------------------------===//

public import NIOCore

/// Send this as a user inbound event to start a graceful shutdown of a connection: GOAWAY now,
/// open streams complete, then the connection closes.
public struct HTTP2GracefulShutdownEvent: Sendable, Hashable {
  /// Creates the event.
  public init() {}
}

/// Serves HTTP/2 (prior-knowledge h2c, or h2 after TLS) on a connection's raw bytes.
///
/// Inbound bytes are fed to libnghttp2; complete requests are answered synchronously by the
/// `HTTP2RequestResponder` on this event loop; nghttp2's output is written once per read batch.
/// The connection closes when nghttp2 wants neither to read nor to write (peer GOAWAY, our
/// GOAWAY with no streams left, or a connection error after its GOAWAY went out).
public final class HTTP2ServerConnectionHandler: ChannelDuplexHandler, RemovableChannelHandler {
  public typealias InboundIn = ByteBuffer
  public typealias InboundOut = Never
  public typealias OutboundIn = Never
  public typealias OutboundOut = ByteBuffer

  private let settings: HTTP2Settings
  private let responder: any HTTP2RequestResponder
  private var session: NGHTTP2Session?
  private var outbound: ByteBuffer?
  private var closing = false
  private var context: ChannelHandlerContext?
  private var writers: [Int32: HTTP2StreamWriter] = [:]
  private let peerIdentity: String?

  /// Creates a handler; the session starts when the handler is added to an active channel.
  /// - Parameter peerIdentity: the verified TLS client identity of the connection, handed to the
  ///   responder on every request (`HTTP2Request.peerIdentity`).
  public init(settings: HTTP2Settings, responder: any HTTP2RequestResponder, peerIdentity: String? = nil) {
    self.settings = settings
    self.responder = responder
    self.peerIdentity = peerIdentity
  }

  public func handlerAdded(context: ChannelHandlerContext) {
    self.context = context
    if context.channel.isActive {
      self.start(context: context)
    }
  }

  public func channelActive(context: ChannelHandlerContext) {
    self.start(context: context)
    context.fireChannelActive()
  }

  public func handlerRemoved(context: ChannelHandlerContext) {
    self.closeAllWriters()
    self.context = nil
  }

  public func channelInactive(context: ChannelHandlerContext) {
    self.closeAllWriters()
    self.session = nil
    context.fireChannelInactive()
  }

  public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    guard let session = self.session, !self.closing else { return }
    let bytes = Self.unwrapInboundIn(data)
    do {
      try session.receive(bytes)
    } catch {
      // Bad preface or a fatal library error: flush what nghttp2 queued (its GOAWAY), then close.
      context.fireErrorCaught(error)
      self.writePendingFrames(context: context)
      self.close(context: context)
      return
    }
    let allocator = context.channel.allocator
    defer { session.clearEvents() }
    for index in session.events.indices {
      let response: HTTP2Response
      let streamID: Int32
      switch session.events[index] {
      case .request(var request):
        streamID = request.head.streamID
        request.peerIdentity = self.peerIdentity
        response = self.responder.respond(to: request, allocator: allocator)
      case .oversized(let head):
        streamID = head.streamID
        response = self.responder.respondToOversizedRequest(head, allocator: allocator)
      }
      do {
        try session.submit(response, streamID: streamID)
      } catch {
        context.fireErrorCaught(error)
        continue
      }
      if let start = response.stream {
        let writer = HTTP2StreamWriter(eventLoop: context.eventLoop, streamID: streamID, connection: self)
        self.writers[streamID] = writer
        start(writer)
      }
    }
    self.notifyClosedStreams()
  }

  public func channelReadComplete(context: ChannelHandlerContext) {
    self.writePendingFrames(context: context)
    context.fireChannelReadComplete()
  }

  public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
    if event is HTTP2GracefulShutdownEvent, let session = self.session {
      do {
        try session.beginGracefulShutdown()
      } catch {
        context.fireErrorCaught(error)
      }
      // Long-lived streams (gRPC Watch) would hold the connection open: ask them to finish.
      for writer in self.writers.values {
        writer.gracefulShutdown()
      }
      self.writePendingFrames(context: context)
      return
    }
    context.fireUserInboundEventTriggered(event)
  }

  // MARK: - Streaming responses

  /// Called by `HTTP2StreamWriter` on the event loop.
  func streamWrite(_ streamID: Int32, bytes: ByteBuffer?, trailers: [HTTP2Header]?) {
    guard let session = self.session, let context = self.context else { return }
    session.appendStreamData(streamID: streamID, bytes: bytes, trailers: trailers)
    self.writePendingFrames(context: context)
  }

  private func notifyClosedStreams() {
    guard let session = self.session else { return }
    for streamID in session.takeClosedStreamingStreams() {
      self.writers.removeValue(forKey: streamID)?.closed()
    }
  }

  private func closeAllWriters() {
    let writers = self.writers
    self.writers = [:]
    for writer in writers.values { writer.closed() }
  }

  // MARK: - Private

  private func start(context: ChannelHandlerContext) {
    guard self.session == nil, !self.closing else { return }
    do {
      self.session = try NGHTTP2Session(settings: self.settings, allocator: context.channel.allocator)
    } catch {
      context.fireErrorCaught(error)
      self.close(context: context)
      return
    }
    // Our SETTINGS go out at once (RFC 9113 §3.4: the server preface).
    self.writePendingFrames(context: context)
  }

  /// Writes everything nghttp2 has queued in one buffer, then closes if the session is done.
  private func writePendingFrames(context: ChannelHandlerContext) {
    guard let session = self.session else { return }
    // The buffer written last time, if the channel is done with it (as it is once the write
    // completed, typically at once): `clear()` reuses its storage when it is ours alone, and
    // gives it fresh storage when the channel still holds the old bytes.
    var buffer = self.outbound ?? context.channel.allocator.buffer(capacity: 4096)
    self.outbound = nil
    buffer.clear()
    do {
      try session.drainOutput(into: &buffer)
    } catch {
      context.fireErrorCaught(error)
      self.close(context: context)
      return
    }
    self.notifyClosedStreams()
    let done = !session.wantsIO
    if buffer.readableBytes > 0 {
      // Shared with the channel until the write completes; one that grew for a burst is let go.
      self.outbound = buffer.capacity <= Self.keptOutboundCapacity ? buffer : nil
      if done {
        // Close only after the last frames (typically our GOAWAY) have left.
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        context.writeAndFlush(Self.wrapOutboundOut(buffer)).whenComplete { _ in
          bound.value.0.close(context: bound.value.1)
        }
      } else {
        context.writeAndFlush(Self.wrapOutboundOut(buffer), promise: nil)
      }
    } else {
      self.outbound = buffer
      if done {
        self.close(context: context)
      }
    }
  }

  /// Largest outbound buffer kept between writes.
  private static let keptOutboundCapacity = 64 << 10

  private func close(context: ChannelHandlerContext) {
    guard !self.closing else { return }
    self.closing = true
    context.close(promise: nil)
  }
}

@available(*, unavailable)
extension HTTP2ServerConnectionHandler: Sendable {}
