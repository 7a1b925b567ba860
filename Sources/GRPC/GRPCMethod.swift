//===----------------------------------------------------------------------===//
// Augmenter — the kinds of gRPC method a router serves, and what a handler knows of its call.
//===----------------------------------------------------------------------===//

public import NIOCore

/// A unary gRPC method: one request message in, one response message out, or a status.
public typealias GRPCUnaryHandler = @Sendable (ByteBuffer, GRPCCallContext) throws(GRPCStatus) -> [UInt8]

/// What a unary handler knows about the call besides its message.
public struct GRPCCallContext: Sendable {
  /// The connection's verified TLS client identity (`HTTP2Request.peerIdentity`), if any.
  public var peerIdentity: String?

  /// Creates a call context.
  public init(peerIdentity: String? = nil) {
    self.peerIdentity = peerIdentity
  }
}

/// A unary gRPC method that answers with a message already framed: exactly one complete
/// length-prefixed message (`GRPCMessageFramer.framed(_:)`), sent as it is. A handler that
/// keeps its encoded answers (ext_authz Check) shares one buffer across calls instead of
/// having a new one built and copied per call.
public typealias GRPCFramedUnaryHandler = @Sendable (ByteBuffer, GRPCCallContext) throws(GRPCStatus) -> ByteBuffer

/// A server-streaming gRPC method: one request message in, then messages over time through the
/// writer (on its event loop), ended by `GRPCServerStreamWriter.finish(_:)`.
public typealias GRPCServerStreamingHandler = @Sendable (ByteBuffer, GRPCServerStreamWriter) -> Void

/// A bidirectional-streaming gRPC method: called once per call, when its request HEADERS
/// arrived, to make the handler of the call's messages. It may send at once.
public typealias GRPCBidirectionalStreamingHandler = @Sendable (GRPCServerStream, GRPCCallContext) -> any GRPCStreamHandler

/// What serves one gRPC path: exactly one kind of handler.
///
/// An enum rather than closures as dictionary values: reading a closure out of a dictionary
/// wraps it in a reabstraction thunk, an allocation per lookup; a payload case does not.
public enum GRPCMethod: Sendable {
  /// One message in, one message out (the router frames it).
  case unary(GRPCUnaryHandler)
  /// One message in, one message out already framed by the handler.
  case framedUnary(GRPCFramedUnaryHandler)
  /// One message in, then messages over time.
  case serverStreaming(GRPCServerStreamingHandler)
  /// Messages in and out as they come, on one stream (ext_proc's Process).
  case bidirectionalStreaming(GRPCBidirectionalStreamingHandler)
}
