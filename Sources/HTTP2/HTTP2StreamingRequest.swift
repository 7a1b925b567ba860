//===----------------------------------------------------------------------===//
// Augmenter — requests whose body is handed over as it arrives (bidirectional streaming).
//===----------------------------------------------------------------------===//

public import NIOCore

/// The receiving side of a streaming request: its body as it arrives, on the connection's event
/// loop, while the response is written through an `HTTP2StreamWriter`.
///
/// The transport holds nothing for it: whatever the receiver keeps unprocessed (a partial
/// message) it reports back, and that count is held to the same bounds as a buffered request
/// (`HTTP2Settings.maxRequestBodyBytes` per stream, `maxBufferedBytesPerConnection` across the
/// connection).
public protocol HTTP2RequestBodyStream: AnyObject {
  /// The response HEADERS are queued: from now on the response writer may be used.
  func started()
  /// Body bytes arrived: one DATA frame's worth, split anywhere. `bytes` may be a view of the
  /// connection's read buffer: copy what is kept past this call.
  /// - Returns: how many received bytes the receiver now holds unprocessed.
  func receive(_ bytes: ByteBuffer) -> Int
  /// The client ended its side of the stream (END_STREAM); the response may go on.
  func receiveEnd()
  /// The receiver held more than the bounds allow: the rest of the request body is discarded,
  /// and the receiver should end the response now (an error status).
  func bufferLimitExceeded()
}

/// How a responder takes a streaming request (`HTTP2RequestResponder.startStream`).
public enum HTTP2StreamStart {
  /// Refuse it with a complete response; the request body is discarded.
  case respond(HTTP2Response)
  /// Serve it: the response HEADERS (`status`, `headers`) go out at once, the body and trailers
  /// follow through the writer the responder was given, and `receiver` gets the request body.
  case stream(status: Int, headers: [HTTP2Header], receiver: any HTTP2RequestBodyStream)
}
