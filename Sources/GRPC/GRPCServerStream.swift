//===----------------------------------------------------------------------===//
// Augmenter — one bidirectional-streaming gRPC call on our HTTP/2 transport.
//===----------------------------------------------------------------------===//

public import HTTP2
public import NIOCore

/// What a bidirectional-streaming method does with its call's events, on the call's event loop.
///
/// Answer with `GRPCServerStream.send(_:)` as messages come, and end the call with
/// `GRPCServerStream.finish(_:)`: after `receivedEnd()` at the latest.
public protocol GRPCStreamHandler: AnyObject {
  /// A complete request message. It is a view of received bytes: decode it here, or copy it.
  func received(_ message: ByteBuffer)
  /// The client ended its side: no more messages will come.
  func receivedEnd()
  /// The call ended without the server finishing it: the client reset the stream, or the
  /// connection went away. Nothing can be sent any more.
  func cancelled()
}

/// One bidirectional-streaming call: request messages go to its `GRPCStreamHandler` as they
/// complete, response messages go out as they are sent.
///
/// Lives on its connection's event loop; every method must be called there. The transport
/// bounds what it holds (a partial request message counts toward the stream's and the
/// connection's request-buffer bounds; response bytes the peer's flow control holds back count
/// toward the connection's).
public final class GRPCServerStream: @unchecked Sendable {
  /// What the handler knows of the call besides its messages.
  public let context: GRPCCallContext
  private var machine: GRPCStreamStateMachine
  private let writer: HTTP2StreamWriter
  private let allocator: ByteBufferAllocator
  private let makeHandler: GRPCBidirectionalStreamingHandler
  /// Released when the call ends, which breaks the cycle a handler holding its stream makes.
  private var handler: (any GRPCStreamHandler)?

  init(
    writer: HTTP2StreamWriter, context: GRPCCallContext, maxMessageBytes: Int, allocator: ByteBufferAllocator,
    makeHandler: @escaping GRPCBidirectionalStreamingHandler
  ) {
    self.writer = writer
    self.context = context
    self.allocator = allocator
    self.makeHandler = makeHandler
    self.machine = GRPCStreamStateMachine(maxMessageBytes: maxMessageBytes, allocator: allocator)
  }

  /// The event loop every call must be made on.
  public var eventLoop: any EventLoop { self.writer.eventLoop }

  /// Whether the call is over for the server: finished, or closed.
  public var isFinished: Bool { !self.machine.maySend }

  /// Sends one response message (length-prefixed here). Ignored once the call is over.
  public func send(_ message: some Collection<UInt8>) {
    self.writer.eventLoop.preconditionInEventLoop()
    guard self.machine.maySend else { return }
    self.writer.write(GRPCMessageFramer.framed(message, allocator: self.allocator))
  }

  /// Sends a response message that is already length-prefixed (exactly one whole message).
  public func send(framed message: ByteBuffer) {
    self.writer.eventLoop.preconditionInEventLoop()
    guard self.machine.maySend else { return }
    self.writer.write(message)
  }

  /// Ends the call with `status` (trailers). Only the first call counts.
  public func finish(_ status: GRPCStatus) {
    self.writer.eventLoop.preconditionInEventLoop()
    guard self.machine.finish() else { return }
    self.handler = nil
    self.writer.finish(trailers: GRPCRouter.statusTrailers(status))
  }

  private func streamClosed() {
    if self.machine.closed() {
      let handler = self.handler
      self.handler = nil
      handler?.cancelled()
    }
    self.handler = nil
  }
}

extension GRPCServerStream: HTTP2RequestBodyStream {
  public func started() {
    self.writer.onClose { [weak self] in self?.streamClosed() }
    self.handler = self.makeHandler(self, self.context)
  }

  public func receive(_ bytes: ByteBuffer) -> Int {
    self.machine.receive(bytes)
    while true {
      switch self.machine.nextMessage() {
      case .message(let message):
        self.handler?.received(message)
      case .needMoreBytes:
        self.machine.doneReceiving()
        return self.machine.heldBytes
      case .fail(let status):
        self.finish(status)
        return 0
      }
    }
  }

  public func receiveEnd() {
    switch self.machine.receiveEnd() {
    case .deliverEnd: self.handler?.receivedEnd()
    case .fail(let status): self.finish(status)
    case .ignore: break
    }
  }

  public func bufferLimitExceeded() {
    self.finish(
      GRPCStatus(.resourceExhausted, "the call holds more unfinished request bytes than this server allows"))
  }
}
