//===----------------------------------------------------------------------===//
// Augmenter — the sending side of one server-streaming gRPC call.
//===----------------------------------------------------------------------===//

package import HTTP2
public import NIOCore

/// Sends the messages of one server-streaming call.
public struct GRPCServerStreamWriter: Sendable {
  private let writer: HTTP2StreamWriter

  init(_ writer: HTTP2StreamWriter) {
    self.writer = writer
  }

  /// The event loop every call must be made on.
  public var eventLoop: any EventLoop { self.writer.eventLoop }

  /// Sends one message.
  public func send(_ message: [UInt8]) {
    var buffer = ByteBufferAllocator().buffer(capacity: message.count + 5)
    GRPCMessageFramer.write(message, into: &buffer)
    self.writer.write(buffer)
  }

  /// Ends the call with a status (trailers).
  public func finish(_ status: GRPCStatus) {
    self.writer.finish(trailers: GRPCRouter.statusTrailers(status))
  }

  /// Runs once when the call ends for any reason (finished, cancelled by the client, connection gone).
  public func onClose(_ handler: @escaping () -> Void) {
    self.writer.onClose(handler)
  }

  /// Runs when the server begins a graceful shutdown; the call should finish promptly.
  public func onGracefulShutdown(_ handler: @escaping () -> Void) {
    self.writer.onGracefulShutdown(handler)
  }
}
