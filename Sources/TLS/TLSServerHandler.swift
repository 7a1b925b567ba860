//===----------------------------------------------------------------------===//
// Augmenter — server-side TLS as a NIO channel handler.
//
// Ciphertext in, plaintext out (and back), with OpenSSL running over memory BIOs: the event loop
// owns the socket. The handler sniffs the first bytes (plaintext HTTP on a TLS port gets a clear
// error instead of OpenSSL's "wrong version number"), bounds the handshake with a timer, fires
// `TLSHandshakeCompleted` before any plaintext, and on any failure fires one
// `TLSConnectionError` and closes the channel, touching nothing else.
//===----------------------------------------------------------------------===//

public import NIOCore

/// Server-side TLS over memory BIOs. Place it first in the pipeline of an accepted channel.
///
/// Inbound: TLS records → decrypted `ByteBuffer`s (as large as the input allows) followed by the
/// socket's `channelReadComplete`. Outbound: `ByteBuffer`s → TLS records; writes made before the
/// handshake completes are held and sent right after it. `close(mode: .all)` sends close_notify
/// best effort and closes without waiting for the peer's.
public final class TLSServerHandler: ChannelDuplexHandler, RemovableChannelHandler {
  public typealias InboundIn = ByteBuffer
  public typealias InboundOut = ByteBuffer
  public typealias OutboundIn = ByteBuffer
  public typealias OutboundOut = ByteBuffer

  private enum State {
    /// Nothing decided yet: looking at the first bytes.
    case sniffing
    /// Bytes go to SSL_do_handshake.
    case handshaking
    /// Application data flows.
    case active
    /// Closed or failed: input is dropped, writes fail.
    case closed
  }

  private let serverContext: TLSServerContext
  private let handshakeTimeout: TimeAmount
  private var connection: OpenSSLConnection?
  private var state = State.sniffing
  private var timeout: Scheduled<Void>?
  /// The first bytes while the sniffer needs more of them.
  private var sniffed: ByteBuffer?
  private var receivedBytes = false
  private var records = TLSRecordBoundaryTracker()
  /// Writes (and whether a flush followed them) made before the handshake completed.
  private var heldWrites: [(ByteBuffer, EventLoopPromise<Void>?)] = []
  private var heldFlush = false
  /// Reused for decrypted data: unique again once the pipeline let go of the last chunk.
  private var scratch: ByteBuffer?

  /// The negotiated parameters; nil until the handshake completed.
  public private(set) var handshakeResult: TLSHandshakeCompleted?

  /// - Parameters:
  ///   - context: the certificate and policy for this connection (taken once: a later reload
  ///     doesn't affect an established connection).
  ///   - handshakeTimeout: how long a client gets from connecting to a completed handshake.
  public init(context: TLSServerContext, handshakeTimeout: TimeAmount = .seconds(10)) {
    self.serverContext = context
    self.handshakeTimeout = handshakeTimeout
  }

  // MARK: lifecycle

  public func handlerAdded(context: ChannelHandlerContext) {
    do {
      self.connection = try OpenSSLConnection(context: self.serverContext)
    } catch {
      // Only allocation failures get here; fail once the pipeline can see it.
      self.fail(context: context, .handshakeFailed(error))
      return
    }
    if context.channel.isActive {
      self.startHandshakeTimer(context: context)
    }
  }

  public func handlerRemoved(context: ChannelHandlerContext) {
    self.cancelHandshakeTimer()
    self.state = .closed
    self.failHeldWrites(ChannelError.ioOnClosedChannel)
    self.connection = nil
  }

  public func channelActive(context: ChannelHandlerContext) {
    self.startHandshakeTimer(context: context)
    context.fireChannelActive()
  }

  public func channelInactive(context: ChannelHandlerContext) {
    self.cancelHandshakeTimer()
    let wasTruncated = self.eofIsTruncation
    self.state = .closed
    self.failHeldWrites(ChannelError.ioOnClosedChannel)
    if wasTruncated {
      context.fireErrorCaught(TLSConnectionError.truncated)
    }
    context.fireChannelInactive()
  }

  public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
    // With half-closure allowed, EOF arrives as an event instead of channelInactive.
    if let channelEvent = event as? ChannelEvent, channelEvent == .inputClosed {
      switch self.state {
      case .closed:
        return
      case .sniffing, .handshaking:
        if self.receivedBytes {
          self.fail(context: context, .truncated)
        } else {
          self.closeQuietly(context: context)
        }
        return
      case .active:
        if self.records.isMidRecord {
          self.fail(context: context, .truncated)
          return
        }
      }
    }
    context.fireUserInboundEventTriggered(event)
  }

  /// EOF now would cut a handshake or record short.
  private var eofIsTruncation: Bool {
    switch self.state {
    case .sniffing, .handshaking: self.receivedBytes
    case .active: self.records.isMidRecord
    case .closed: false
    }
  }

  // MARK: inbound

  public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    let buffer = self.unwrapInboundIn(data)
    switch self.state {
    case .closed:
      return
    case .sniffing:
      self.sniff(context: context, buffer)
    case .handshaking, .active:
      self.receive(buffer)
      self.advance(context: context)
    }
  }

  public func channelReadComplete(context: ChannelHandlerContext) {
    if self.state != .closed {
      context.fireChannelReadComplete()
    }
  }

  private func sniff(context: ChannelHandlerContext, _ buffer: ByteBuffer) {
    guard buffer.readableBytes > 0 else { return }
    self.receivedBytes = true
    var input = buffer
    if var sniffed = self.sniffed {
      self.sniffed = nil
      sniffed.writeImmutableBuffer(buffer)
      input = sniffed
    }
    switch input.withUnsafeReadableBytes({ FirstBytes.classify($0) }) {
    case .needMore:
      self.sniffed = input
    case .plaintextHTTP:
      self.fail(context: context, .plaintextOnTLSPort)
    case .tls, .other:
      // Anything that isn't plaintext HTTP goes to OpenSSL, which names what is wrong with it.
      self.state = .handshaking
      self.receive(input)
      self.advance(context: context)
    }
  }

  private func receive(_ buffer: ByteBuffer) {
    self.records.consume(buffer)
    self.connection?.receive(buffer)
  }

  /// Runs the handshake and/or reads application data as far as the input allows.
  private func advance(context: ChannelHandlerContext) {
    guard let connection = self.connection else { return }
    if self.state == .handshaking {
      let result = connection.handshake()
      // Alerts must reach the peer before we close; handshake flights before we wait for input.
      self.sendOutput(context: context, connection: connection, flush: true)
      switch result {
      case .complete:
        self.handshakeCompleted(context: context, connection: connection)
      case .wantRead:
        return
      case .closed:
        self.fail(
          context: context,
          .handshakeFailed(TLSError(operation: "SSL_do_handshake", reasons: ["peer sent close_notify during the handshake"])))
        return
      case .failed(let error):
        self.fail(context: context, .handshakeFailed(error))
        return
      }
    }
    if self.state == .active {
      self.readApplicationData(context: context, connection: connection)
    }
  }

  private func handshakeCompleted(context: ChannelHandlerContext, connection: OpenSSLConnection) {
    self.cancelHandshakeTimer()
    self.state = .active
    let result = connection.handshakeCompleted()
    self.handshakeResult = result
    context.fireUserInboundEventTriggered(result)
    guard self.state == .active else { return }
    // Held writes go out now, in order, flushed if a flush was asked for.
    let held = self.heldWrites
    let flush = self.heldFlush
    self.heldWrites = []
    self.heldFlush = false
    for (buffer, promise) in held {
      guard self.state == .active else {
        promise?.fail(ChannelError.ioOnClosedChannel)
        continue
      }
      self.encrypt(context: context, buffer, promise: promise)
    }
    if flush && self.state == .active {
      context.flush()
    }
  }

  /// Decrypts everything available into as few buffers as possible and fires them.
  private func readApplicationData(context: ChannelHandlerContext, connection: OpenSSLConnection) {
    while self.state == .active {
      // Plaintext is never longer than the ciphertext it came from, so this usually takes all
      // pending records in one buffer; a full buffer just means another round.
      let wanted = max(connection.pendingInputBytes, 16 * 1024)
      var buffer = self.scratch ?? context.channel.allocator.buffer(capacity: wanted)
      self.scratch = nil
      buffer.clear()
      let result = connection.read(into: &buffer, minimumWritable: wanted)
      // Post-handshake messages (key updates) may have produced output.
      self.sendOutput(context: context, connection: connection, flush: true)
      if buffer.readableBytes > 0 {
        context.fireChannelRead(self.wrapInboundOut(buffer))
      }
      // Kept for the next round: if the pipeline released it by then, it is reused in place.
      self.scratch = buffer
      switch result {
      case .complete:
        continue
      case .wantRead:
        return
      case .closed:
        // close_notify from the peer: answer with ours and close.
        self.closeWithNotify(context: context, promise: nil)
        return
      case .failed(let error):
        self.fail(context: context, .protocolError(error))
        return
      }
    }
  }

  // MARK: outbound

  public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
    let buffer = self.unwrapOutboundIn(data)
    switch self.state {
    case .sniffing, .handshaking:
      self.heldWrites.append((buffer, promise))
    case .active:
      self.encrypt(context: context, buffer, promise: promise)
    case .closed:
      promise?.fail(ChannelError.ioOnClosedChannel)
    }
  }

  public func flush(context: ChannelHandlerContext) {
    switch self.state {
    case .sniffing, .handshaking:
      self.heldFlush = true
    case .active:
      context.flush()
    case .closed:
      return
    }
  }

  public func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
    switch mode {
    case .input:
      context.close(mode: mode, promise: promise)
    case .output:
      if self.state == .active, let connection = self.connection {
        connection.shutdown()
        self.sendOutput(context: context, connection: connection, flush: true)
      }
      context.close(mode: mode, promise: promise)
    case .all:
      if self.state == .active {
        self.closeWithNotify(context: context, promise: promise)
      } else {
        self.cancelHandshakeTimer()
        self.state = .closed
        self.failHeldWrites(ChannelError.ioOnClosedChannel)
        context.close(mode: .all, promise: promise)
      }
    }
  }

  private func encrypt(context: ChannelHandlerContext, _ buffer: ByteBuffer, promise: EventLoopPromise<Void>?) {
    guard let connection = self.connection else {
      promise?.fail(ChannelError.ioOnClosedChannel)
      return
    }
    switch connection.write(buffer) {
    case .complete:
      if let output = connection.takeOutput(allocator: context.channel.allocator) {
        context.write(self.wrapOutboundOut(output), promise: promise)
      } else {
        promise?.succeed()
      }
    case .wantRead, .closed:
      // A memory BIO never pushes back and we never renegotiate; treat as a broken connection.
      let error = TLSError(operation: "SSL_write_ex", reasons: ["unexpected want-read or close"])
      promise?.fail(TLSConnectionError.protocolError(error))
      self.fail(context: context, .protocolError(error))
    case .failed(let error):
      promise?.fail(TLSConnectionError.protocolError(error))
      self.fail(context: context, .protocolError(error))
    }
  }

  /// Writes whatever OpenSSL produced for the peer.
  private func sendOutput(context: ChannelHandlerContext, connection: OpenSSLConnection, flush: Bool) {
    guard let output = connection.takeOutput(allocator: context.channel.allocator) else { return }
    if flush {
      context.writeAndFlush(self.wrapOutboundOut(output), promise: nil)
    } else {
      context.write(self.wrapOutboundOut(output), promise: nil)
    }
  }

  // MARK: closing

  /// close_notify (best effort), then close.
  private func closeWithNotify(context: ChannelHandlerContext, promise: EventLoopPromise<Void>?) {
    if let connection = self.connection {
      connection.shutdown()
      self.sendOutput(context: context, connection: connection, flush: true)
    }
    self.state = .closed
    self.failHeldWrites(ChannelError.ioOnClosedChannel)
    context.close(mode: .all, promise: promise)
  }

  private func closeQuietly(context: ChannelHandlerContext) {
    self.cancelHandshakeTimer()
    self.state = .closed
    self.failHeldWrites(ChannelError.ioOnClosedChannel)
    context.close(promise: nil)
  }

  /// The one way a connection ends in error: one event down the pipeline, then close.
  private func fail(context: ChannelHandlerContext, _ error: TLSConnectionError) {
    guard self.state != .closed else { return }
    self.cancelHandshakeTimer()
    self.state = .closed
    self.failHeldWrites(error)
    context.fireErrorCaught(error)
    context.close(promise: nil)
  }

  private func failHeldWrites(_ error: any Error) {
    guard !self.heldWrites.isEmpty else { return }
    let held = self.heldWrites
    self.heldWrites = []
    for (_, promise) in held {
      promise?.fail(error)
    }
  }

  // MARK: handshake timer

  private func startHandshakeTimer(context: ChannelHandlerContext) {
    guard self.timeout == nil, self.state == .sniffing || self.state == .handshaking else { return }
    let timeout = self.handshakeTimeout
    self.timeout = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) {
      self.timeout = nil
      self.fail(context: context, .handshakeTimeout(timeout))
    }
  }

  private func cancelHandshakeTimer() {
    self.timeout?.cancel()
    self.timeout = nil
  }
}

@available(*, unavailable)
extension TLSServerHandler: Sendable {}

/// What the first bytes of a connection look like.
enum FirstBytes: Equatable {
  /// A TLS handshake record.
  case tls
  /// An HTTP/1.x request line or the HTTP/2 preface ("PRI * HTTP/2.0").
  case plaintextHTTP
  /// Could still be an HTTP method: wait for more bytes.
  case needMore
  /// Neither: let OpenSSL judge.
  case other

  /// Longest method token we wait for (`OPTIONS` is 7; extension methods are rarely longer).
  static let maximumMethodLength = 16

  static func classify(_ bytes: UnsafeRawBufferPointer) -> FirstBytes {
    guard let first = bytes.first else { return .needMore }
    if first == 0x16 {
      return .tls
    }
    // An HTTP request starts with a method token (upper-case letters, maybe '-') and a space;
    // the HTTP/2 preface starts with "PRI ".
    for (index, byte) in bytes.prefix(Self.maximumMethodLength + 1).enumerated() {
      switch byte {
      case UInt8(ascii: " "):
        return index > 0 ? .plaintextHTTP : .other
      case UInt8(ascii: "A")...UInt8(ascii: "Z"):
        continue
      case UInt8(ascii: "-") where index > 0:
        continue
      default:
        return .other
      }
    }
    return bytes.count > Self.maximumMethodLength ? .other : .needMore
  }
}

/// Follows TLS record boundaries in the inbound byte stream, so EOF in the middle of a record can
/// be told from EOF between records.
struct TLSRecordBoundaryTracker {
  /// Header bytes seen of the current record header (0 = at a boundary or in a body).
  private var headerBytes = 0
  private var lengthHigh: UInt8 = 0
  /// Body bytes still to come of the current record.
  private var bodyRemaining = 0

  var isMidRecord: Bool {
    self.headerBytes > 0 || self.bodyRemaining > 0
  }

  mutating func consume(_ buffer: ByteBuffer) {
    buffer.withUnsafeReadableBytes { bytes in
      var index = 0
      while index < bytes.count {
        if self.bodyRemaining > 0 {
          let skipped = min(self.bodyRemaining, bytes.count - index)
          self.bodyRemaining -= skipped
          index += skipped
          continue
        }
        // type (1), version (2), length (2)
        let byte = bytes[index]
        index += 1
        self.headerBytes += 1
        if self.headerBytes == 4 {
          self.lengthHigh = byte
        } else if self.headerBytes == 5 {
          self.bodyRemaining = Int(self.lengthHigh) << 8 | Int(byte)
          self.headerBytes = 0
        }
      }
    }
  }
}
