//===----------------------------------------------------------------------===//
// Augmenter — the NIO handler that runs one nghttp2 server session per connection.
//===----------------------------------------------------------------------===//

public import NIOCore

/// Serves HTTP/2 (prior-knowledge h2c, or h2 after TLS) on a connection's raw bytes.
///
/// Inbound bytes are fed to libnghttp2; complete requests are answered synchronously by the
/// `HTTP2RequestResponder` on this event loop; nghttp2's output is written once per read batch.
/// The connection closes when nghttp2 wants neither to read nor to write (peer GOAWAY, our
/// GOAWAY with no streams left, or a connection error after its GOAWAY went out).
///
/// Backpressure: while the channel is not writable (its outbound buffer is above the high water
/// mark) the handler neither takes output from nghttp2 nor passes `read` on, so a peer that
/// doesn't read what we send stops being read, and what it costs us is bounded by the water
/// mark, one read's worth of input, and nghttp2's own limits (`maxOutboundControlFrames`).
/// Both resume on `channelWritabilityChanged`.
///
/// Closes by itself, with an `HTTP2ConnectionNotice` fired down the pipeline: a connection idle
/// for `HTTP2Settings.idleTimeout` (graceful, as for `ChannelShouldQuiesceEvent`), and a peer
/// flooding us with control frames (GOAWAY ENHANCE_YOUR_CALM).
public final class HTTP2ServerConnectionHandler: ChannelDuplexHandler, RemovableChannelHandler {
  public typealias InboundIn = ByteBuffer
  public typealias InboundOut = Never
  public typealias OutboundIn = Never
  public typealias OutboundOut = ByteBuffer

  /// Where a graceful close stands.
  private enum GracefulClose {
    /// Serving.
    case open
    /// Shutdown notice and PING sent; waiting for the PING's acknowledgement (or the delay).
    case noticeSent
    /// The final GOAWAY is queued: open streams finish, then the connection closes.
    case goingAway
  }

  private let settings: HTTP2Settings
  private let responder: any HTTP2RequestResponder
  private var session: NGHTTP2Session?
  private var outbound: ByteBuffer?
  private var closing = false
  private var context: ChannelHandlerContext?
  private var writers: [Int32: HTTP2StreamWriter] = [:]
  /// The receivers of streaming requests still being received.
  private var receivers: [Int32: any HTTP2RequestBodyStream] = [:]
  private let peerIdentity: String?
  /// A `read` held back while the channel was not writable; passed on when it is again.
  private var readHeld = false
  /// We ended the session (flood or fatal error): what nghttp2 still yields is our GOAWAY,
  /// written even when the channel is not writable.
  private var terminating = false
  private var gracefulClose = GracefulClose.open
  /// When a frame last arrived or a streaming response ended: idleness counts from here.
  private var lastActivity = NIODeadline.uptimeNanoseconds(0)
  private var idleTimer: Scheduled<Void>?
  /// The bound on the current closing step: the PING round trip, then the wait for the last
  /// streams, then the last write.
  private var closeTimer: Scheduled<Void>?

  /// Output taken from nghttp2 per buffer. Writability is checked between buffers, so at most
  /// about this much goes past the channel's high water mark.
  private static let writeChunkBytes = 32 << 10
  /// Largest outbound buffer kept between writes.
  private static let keptOutboundCapacity = 64 << 10
  /// How long the final GOAWAY waits for the acknowledgement of the PING sent after the shutdown
  /// notice: a peer that doesn't answer PINGs is given this long to see the notice.
  static let shutdownNoticeDelay = TimeAmount.seconds(1)
  /// How long a closing connection may wait on a peer: for the last write to be taken, and,
  /// after the final GOAWAY, between checks that no stream is left.
  static let closeLinger = TimeAmount.seconds(5)

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
    self.cancelTimers()
    self.closeAllWriters()
    self.context = nil
  }

  public func channelInactive(context: ChannelHandlerContext) {
    self.cancelTimers()
    self.closeAllWriters()
    self.session = nil
    context.fireChannelInactive()
  }

  public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    guard let session = self.session, !self.closing, !self.terminating else { return }
    self.lastActivity = context.eventLoop.now
    let bytes = Self.unwrapInboundIn(data)
    do {
      try session.receive(bytes)
    } catch let error where error.isFlood {
      self.terminateFlooded(
        context: context,
        reason:
          "more than \(self.settings.maxOutboundControlFrames) PING/SETTINGS acknowledgements queued for a peer that does not read them")
      return
    } catch let error where error.isResetFlood {
      self.terminateFlooded(context: context, reason: error.message)
      return
    } catch {
      // Bad preface or a fatal library error: flush what nghttp2 queued (its GOAWAY), then close.
      context.fireErrorCaught(error)
      self.terminating = true
      self.writePendingFrames(context: context)
      self.close(context: context)
      return
    }
    let allocator = context.channel.allocator
    var pingAcknowledged = false
    for index in session.events.indices {
      switch session.events[index] {
      case .request(var request):
        request.peerIdentity = self.peerIdentity
        let response = self.responder.respond(to: request, allocator: allocator)
        self.submit(response, streamID: request.head.streamID, session: session, context: context)
      case .oversized(let head):
        let response = self.responder.respondToOversizedRequest(head, allocator: allocator)
        self.submit(response, streamID: head.streamID, session: session, context: context)
      case .bodyStarted(let head, let prefix):
        guard let response = self.responder.respondEarly(to: head, bodyPrefix: prefix, allocator: allocator) else {
          continue
        }
        session.discardRequestBody(streamID: head.streamID)
        self.submit(response, streamID: head.streamID, session: session, context: context)
      case .shutdownPingAcknowledged:
        pingAcknowledged = true
      case .streamOpened(let head):
        self.startStream(head, session: session, context: context)
      case .streamData(let streamID, let bytes):
        guard let receiver = self.receivers[streamID] else { continue }
        if !session.receiverHolds(receiver.receive(bytes), streamID: streamID) {
          self.receivers[streamID] = nil
          session.discardRequestBody(streamID: streamID)
          receiver.bufferLimitExceeded()
        }
      case .streamEnded(let streamID):
        self.receivers.removeValue(forKey: streamID)?.receiveEnd()
      }
    }
    session.clearEvents()
    self.notifyClosedStreams()
    if pingAcknowledged {
      self.sendFinalGoAway(context: context)
    }
  }

  public func channelReadComplete(context: ChannelHandlerContext) {
    self.writePendingFrames(context: context)
    context.fireChannelReadComplete()
  }

  public func channelWritabilityChanged(context: ChannelHandlerContext) {
    if context.channel.isWritable {
      // Output first: if it fills the buffer again, reading stays paused.
      self.writePendingFrames(context: context)
      if self.readHeld, context.channel.isWritable {
        self.readHeld = false
        context.read()
      }
    }
    context.fireChannelWritabilityChanged()
  }

  public func read(context: ChannelHandlerContext) {
    // Reading more from a peer that doesn't take our output would only queue more output for
    // it (PING and SETTINGS acknowledgements, RST_STREAMs, responses): hold the read instead.
    if context.channel.isWritable || self.closing {
      context.read()
    } else {
      self.readHeld = true
    }
  }

  public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
    // NIO's quiesce event (what `ServerQuiescingHelper` sends, and what NIOHTTP1's pipeline
    // handler answers on HTTP/1.1 connections) starts a graceful shutdown: GOAWAY now (a
    // shutdown notice, then the final one after a PING round trip), open streams complete, then
    // the connection closes.
    if event is ChannelShouldQuiesceEvent {
      self.beginGracefulClose(context: context)
      return
    }
    context.fireUserInboundEventTriggered(event)
  }

  // MARK: - Responses

  private func submit(_ response: HTTP2Response, streamID: Int32, session: NGHTTP2Session, context: ChannelHandlerContext) {
    do {
      try session.submit(response, streamID: streamID)
    } catch {
      context.fireErrorCaught(error)
      return
    }
    if let start = response.stream {
      let writer = HTTP2StreamWriter(eventLoop: context.eventLoop, streamID: streamID, connection: self)
      self.writers[streamID] = writer
      start(writer)
      if self.gracefulClose != .open {
        // Opened after the shutdown began (the peer had not seen the notice yet): it is asked
        // to finish like the others were.
        writer.gracefulShutdown()
      }
    }
  }

  // MARK: - Streaming requests and responses

  private func startStream(_ head: HTTP2RequestHead, session: NGHTTP2Session, context: ChannelHandlerContext) {
    let writer = HTTP2StreamWriter(eventLoop: context.eventLoop, streamID: head.streamID, connection: self)
    let start = self.responder.startStream(
      head, peerIdentity: self.peerIdentity, writer: writer, allocator: context.channel.allocator)
    switch start {
    case .respond(let response):
      session.discardRequestBody(streamID: head.streamID)
      self.submit(response, streamID: head.streamID, session: session, context: context)
    case .stream(let status, let headers, let receiver):
      do {
        try session.submitStreamingResponse(status: status, headers: headers, streamID: head.streamID)
      } catch {
        context.fireErrorCaught(error)
        return
      }
      self.writers[head.streamID] = writer
      self.receivers[head.streamID] = receiver
      receiver.started()
      if self.gracefulClose != .open {
        writer.gracefulShutdown()
      }
    }
  }

  /// Called by `HTTP2StreamWriter` on the event loop. The bytes wait in the session while the
  /// channel is not writable, like any other output.
  func streamWrite(_ streamID: Int32, bytes: ByteBuffer?, trailers: [HTTP2Header]?) {
    guard let session = self.session, let context = self.context else { return }
    session.appendStreamData(streamID: streamID, bytes: bytes, trailers: trailers)
    self.writePendingFrames(context: context)
  }

  private func notifyClosedStreams() {
    guard let session = self.session, let context = self.context else { return }
    let closed = session.takeClosedStreamingStreams()
    guard !closed.isEmpty else { return }
    // A long-lived stream that just ended: the connection has been busy until now.
    self.lastActivity = context.eventLoop.now
    for streamID in closed {
      self.receivers[streamID] = nil
      self.writers.removeValue(forKey: streamID)?.closed()
    }
  }

  private func closeAllWriters() {
    let writers = self.writers
    self.writers = [:]
    self.receivers = [:]
    for writer in writers.values { writer.closed() }
  }

  // MARK: - Idle timeout

  private func scheduleIdleCheck(context: ChannelHandlerContext, at deadline: NIODeadline) {
    self.idleTimer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) {
      self.idleCheck(context: context)
    }
  }

  /// Runs when the connection may have been idle for `idleTimeout`: closes it if it was,
  /// otherwise checks again when it could next be. (One timer per connection, moved forward
  /// only when it fires: nothing is scheduled per request.)
  private func idleCheck(context: ChannelHandlerContext) {
    self.idleTimer = nil
    guard let session = self.session, !self.closing, self.gracefulClose == .open else { return }
    let now = context.eventLoop.now
    if session.openStreamCount > 0 {
      // An open stream (a gRPC Watch, a request still arriving) is not idleness.
      self.scheduleIdleCheck(context: context, at: now + self.settings.idleTimeout)
      return
    }
    let due = self.lastActivity + self.settings.idleTimeout
    if now < due {
      self.scheduleIdleCheck(context: context, at: due)
      return
    }
    context.fireUserInboundEventTriggered(
      HTTP2ConnectionNotice(
        kind: .idleTimeout,
        reason: "no open stream and no frame received for \(Self.describe(self.settings.idleTimeout)): closing with GOAWAY"
      )
    )
    self.beginGracefulClose(context: context)
  }

  // MARK: - Closing

  /// Phase one of a graceful close: shutdown notice and PING; phase two follows on the PING's
  /// acknowledgement or after `shutdownNoticeDelay`.
  private func beginGracefulClose(context: ChannelHandlerContext) {
    guard let session = self.session, !self.closing, !self.terminating, self.gracefulClose == .open else { return }
    self.gracefulClose = .noticeSent
    self.idleTimer?.cancel()
    self.idleTimer = nil
    do {
      try session.submitShutdownNotice()
    } catch {
      context.fireErrorCaught(error)
      self.close(context: context)
      return
    }
    // Long-lived streams (gRPC Watch) would hold the connection open: ask them to finish.
    for writer in self.writers.values {
      writer.gracefulShutdown()
    }
    self.closeTimer = context.eventLoop.assumeIsolated().scheduleTask(in: Self.shutdownNoticeDelay) {
      self.sendFinalGoAway(context: context)
    }
    self.writePendingFrames(context: context)
  }

  /// Phase two: GOAWAY with the last stream we took; open streams finish, then the connection
  /// closes (when nghttp2 has nothing left to do, or, if the peer stops taking our output, once
  /// no stream is left).
  private func sendFinalGoAway(context: ChannelHandlerContext) {
    guard let session = self.session, !self.closing, self.gracefulClose == .noticeSent else { return }
    self.gracefulClose = .goingAway
    self.closeTimer?.cancel()
    do {
      try session.beginGracefulShutdown()
    } catch {
      context.fireErrorCaught(error)
      self.close(context: context)
      return
    }
    self.scheduleLeftoverCheck(context: context)
    self.writePendingFrames(context: context)
  }

  /// After the final GOAWAY: a connection with no stream left whose GOAWAY could not be written
  /// (the peer doesn't read) is closed anyway.
  private func scheduleLeftoverCheck(context: ChannelHandlerContext) {
    self.closeTimer = context.eventLoop.assumeIsolated().scheduleTask(in: Self.closeLinger) {
      guard let session = self.session, !self.closing else { return }
      if session.openStreamCount == 0 {
        self.close(context: context)
      } else {
        self.scheduleLeftoverCheck(context: context)
      }
    }
  }

  /// The peer floods us (`reason` says with what): GOAWAY ENHANCE_YOUR_CALM, then close.
  private func terminateFlooded(context: ChannelHandlerContext, reason: String) {
    guard let session = self.session else { return }
    self.terminating = true
    context.fireUserInboundEventTriggered(
      HTTP2ConnectionNotice(kind: .flooded, reason: reason + ": GOAWAY ENHANCE_YOUR_CALM and close"))
    do {
      try session.terminateEnhanceYourCalm()
    } catch {
      context.fireErrorCaught(error)
      self.close(context: context)
      return
    }
    self.writePendingFrames(context: context)
    // Normally closed by now or when the GOAWAY has left; this covers a failed drain.
    if !self.closing, self.closeTimer == nil {
      self.closeTimer = context.eventLoop.assumeIsolated().scheduleTask(in: Self.closeLinger) {
        self.close(context: context)
      }
    }
  }

  // MARK: - Private

  private func start(context: ChannelHandlerContext) {
    guard self.session == nil, !self.closing else { return }
    do {
      self.session = try NGHTTP2Session(
        settings: self.settings,
        allocator: context.channel.allocator,
        earlyResponsePrefixBytes: self.responder.earlyResponsePrefixBytes,
        streamingRequestPaths: self.responder.streamingRequestPaths
      )
    } catch {
      context.fireErrorCaught(error)
      self.close(context: context)
      return
    }
    self.lastActivity = context.eventLoop.now
    if self.settings.idleTimeout > .zero {
      self.scheduleIdleCheck(context: context, at: self.lastActivity + self.settings.idleTimeout)
    }
    // Our SETTINGS go out at once (RFC 9113 §3.4: the server preface).
    self.writePendingFrames(context: context)
  }

  /// Writes what nghttp2 has queued while the channel is writable, then closes if the session
  /// is done.
  ///
  /// While the channel is not writable the output stays in nghttp2 (which bounds what it queues
  /// on its own) and `channelWritabilityChanged` resumes here. Once the session is ending (our
  /// GOAWAY after an error or flood, or nghttp2 done reading) what is left is that GOAWAY: it is
  /// written regardless, then the connection closes.
  private func writePendingFrames(context: ChannelHandlerContext) {
    guard let session = self.session, !self.closing else { return }
    let ending = self.terminating || !session.wantsRead
    // The buffer written last time, if the channel is done with it (as it is once the write
    // completed, typically at once): `clear()` reuses its storage when it is ours alone, and
    // gives it fresh storage when the channel still holds the old bytes.
    // Moved out, never copied: a second reference would make `clear()` copy the storage (two
    // allocations per response, which the allocation budget test catches).
    var reusable = self.outbound.take()
    // Each buffer is written when the next one has bytes, so the last one can carry the flush
    // (and, when the session is done, the close).
    var pending: ByteBuffer?
    var first = true
    var more = true
    while more, context.channel.isWritable || ending {
      var buffer: ByteBuffer
      if first, reusable != nil {
        // Not through a `let` binding: that would be the second reference.
        buffer = reusable.take()!
        buffer.clear()
      } else {
        buffer = context.channel.allocator.buffer(capacity: 4096)
      }
      do {
        more = try session.drainOutput(into: &buffer, limit: Self.writeChunkBytes)
      } catch {
        context.fireErrorCaught(error)
        self.close(context: context)
        return
      }
      if first {
        first = false
        // Shared with the channel until the write completes; one that grew for a burst is let go.
        self.outbound = buffer.capacity <= Self.keptOutboundCapacity ? buffer : nil
      }
      guard buffer.readableBytes > 0 else { break }
      if let pending {
        context.write(Self.wrapOutboundOut(pending), promise: nil)
      }
      pending = buffer
    }
    if first {
      // Not writable: nothing taken, the kept buffer stays for next time.
      self.outbound = reusable
    }
    self.notifyClosedStreams()
    let done = !session.wantsIO
    if let pending {
      if done {
        // Close only after the last frames (typically our GOAWAY) have left, or after a bound
        // if the peer doesn't take them.
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        context.writeAndFlush(Self.wrapOutboundOut(pending)).whenComplete { _ in
          bound.value.0.close(context: bound.value.1)
        }
        self.closeTimer?.cancel()
        self.closeTimer = context.eventLoop.assumeIsolated().scheduleTask(in: Self.closeLinger) {
          self.close(context: context)
        }
      } else {
        context.writeAndFlush(Self.wrapOutboundOut(pending), promise: nil)
      }
    } else if done {
      self.close(context: context)
    }
  }

  private func cancelTimers() {
    self.idleTimer?.cancel()
    self.idleTimer = nil
    self.closeTimer?.cancel()
    self.closeTimer = nil
  }

  private func close(context: ChannelHandlerContext) {
    guard !self.closing else { return }
    self.closing = true
    self.cancelTimers()
    context.close(promise: nil)
  }

  /// `1h`, `30s`, `250ms`: a duration as the configuration writes it.
  private static func describe(_ amount: TimeAmount) -> String {
    let nanoseconds = amount.nanoseconds
    if nanoseconds % 3_600_000_000_000 == 0 { return "\(nanoseconds / 3_600_000_000_000)h" }
    if nanoseconds % 1_000_000_000 == 0 { return "\(nanoseconds / 1_000_000_000)s" }
    return "\(nanoseconds / 1_000_000)ms"
  }
}

@available(*, unavailable)
extension HTTP2ServerConnectionHandler: Sendable {}
