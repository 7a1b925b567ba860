//===----------------------------------------------------------------------===//
// Augmenter — writing a response body over time on one HTTP/2 stream.
//===----------------------------------------------------------------------===//

public import NIOCore

/// Writes a streaming response body. Use it on `eventLoop` only (it is handed out there, and
/// every method must be called there); it does nothing once the stream is gone.
public final class HTTP2StreamWriter: @unchecked Sendable {
  /// The connection's event loop: schedule timers and call the writer's methods here.
  public let eventLoop: any EventLoop
  /// The stream written to.
  public let streamID: Int32

  weak var connection: HTTP2ServerConnectionHandler?
  private var closeHandlers: [() -> Void] = []
  private var shutdownHandlers: [() -> Void] = []
  private(set) var isClosed = false

  init(eventLoop: any EventLoop, streamID: Int32, connection: HTTP2ServerConnectionHandler) {
    self.eventLoop = eventLoop
    self.streamID = streamID
    self.connection = connection
  }

  /// Appends bytes to the body; they go out as flow control allows.
  public func write(_ bytes: ByteBuffer) {
    self.eventLoop.preconditionInEventLoop()
    guard !self.isClosed else { return }
    self.connection?.streamWrite(self.streamID, bytes: bytes, trailers: nil)
  }

  /// Ends the body with trailers (END_STREAM).
  public func finish(trailers: [HTTP2Header]) {
    self.eventLoop.preconditionInEventLoop()
    guard !self.isClosed else { return }
    self.connection?.streamWrite(self.streamID, bytes: nil, trailers: trailers)
  }

  /// Runs `handler` once when the stream closes for any reason (finished, reset by the client,
  /// connection gone). Release timers and state there.
  public func onClose(_ handler: @escaping () -> Void) {
    self.eventLoop.preconditionInEventLoop()
    if self.isClosed { handler() } else { self.closeHandlers.append(handler) }
  }

  /// Runs `handler` when the server starts a graceful shutdown: finish the stream soon.
  public func onGracefulShutdown(_ handler: @escaping () -> Void) {
    self.eventLoop.preconditionInEventLoop()
    self.shutdownHandlers.append(handler)
  }

  func closed() {
    guard !self.isClosed else { return }
    self.isClosed = true
    let handlers = self.closeHandlers
    self.closeHandlers = []
    self.shutdownHandlers = []
    for handler in handlers { handler() }
  }

  func gracefulShutdown() {
    let handlers = self.shutdownHandlers
    self.shutdownHandlers = []
    for handler in handlers { handler() }
  }
}
