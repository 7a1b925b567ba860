//===----------------------------------------------------------------------===//
// Test support: our nghttp2 server handler and swift-nio-http2's client, connected in memory.
//===----------------------------------------------------------------------===//

import HTTP2
import NIOCore
import NIOEmbedded
import NIOHPACK
import NIOHTTP2
import Testing

/// A unary echo-ish gRPC method set used by the tests: `/test.Echo/Echo` returns its input.
let echoMethods: [String: GRPCUnaryHandler] = [
  "/test.Echo/Echo": { message, _ in Array(message.readableBytesView) },
  "/test.Echo/Fail": { _, _ throws(GRPCStatus) in throw GRPCStatus(.permissionDenied, "nope: 100% ünicode\n") },
]

/// Server and client channels, bytes moved between them by `interact()`.
final class InMemoryHTTP2 {
  let server: EmbeddedChannel
  let client: EmbeddedChannel
  private(set) var clientFrames: [HTTP2Frame] = []

  init(
    settings: HTTP2.HTTP2Settings = HTTP2.HTTP2Settings(),
    responder: any HTTP2RequestResponder = GRPCRouter(methods: echoMethods, maxMessageBytes: 1024),
    connectClient: Bool = true
  ) throws {
    self.server = EmbeddedChannel(
      handler: HTTP2ServerConnectionHandler(settings: settings, responder: responder)
    )
    self.client = EmbeddedChannel(handler: NIOHTTP2Handler(mode: .client))
    try self.server.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
    if connectClient {
      try self.client.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 2)).wait()
      try self.interact()
    }
  }

  /// Moves bytes both ways until neither side has anything left to send.
  func interact() throws {
    var moved = true
    while moved {
      moved = false
      while let bytes = try self.client.readOutbound(as: ByteBuffer.self) {
        moved = true
        if self.server.isActive { try self.server.writeInbound(bytes) }
      }
      while let bytes = try self.server.readOutbound(as: ByteBuffer.self) {
        moved = true
        if self.client.isActive { try self.client.writeInbound(bytes) }
      }
      while let frame = try self.client.readInbound(as: HTTP2Frame.self) {
        self.clientFrames.append(frame)
      }
    }
  }

  /// Sends raw bytes to the server, as if from a broken client.
  func sendRaw(_ bytes: [UInt8]) throws {
    try self.server.writeInbound(ByteBuffer(bytes: bytes))
  }

  func sendHeaders(stream: Int, path: String, contentType: String? = "application/grpc", method: String = "POST", endStream: Bool = false) throws {
    var headers: HPACKHeaders = [
      ":method": method, ":scheme": "http", ":path": path, ":authority": "augmenter", "te": "trailers",
    ]
    if let contentType { headers.add(name: "content-type", value: contentType) }
    let payload = HTTP2Frame.FramePayload.headers(.init(headers: headers, endStream: endStream))
    try self.client.writeOutbound(HTTP2Frame(streamID: HTTP2StreamID(stream), payload: payload))
    try self.interact()
  }

  func sendData(stream: Int, _ bytes: [UInt8], endStream: Bool) throws {
    let payload = HTTP2Frame.FramePayload.data(.init(data: .byteBuffer(ByteBuffer(bytes: bytes)), endStream: endStream))
    try self.client.writeOutbound(HTTP2Frame(streamID: HTTP2StreamID(stream), payload: payload))
    try self.interact()
  }

  /// One unary call: headers, the body (optionally in chunks), END_STREAM.
  func call(stream: Int, path: String, body: [UInt8], chunk: Int? = nil, contentType: String? = "application/grpc") throws -> Response {
    try self.sendHeaders(stream: stream, path: path, contentType: contentType)
    let size = max(1, chunk ?? body.count)
    var offset = 0
    repeat {
      let end = min(body.count, offset + size)
      try self.sendData(stream: stream, Array(body[offset..<end]), endStream: end == body.count)
      offset = end
    } while offset < body.count
    return self.response(stream: stream)
  }

  /// What the client received on a stream so far.
  func response(stream: Int) -> Response {
    var response = Response()
    for frame in self.clientFrames where frame.streamID == HTTP2StreamID(stream) {
      switch frame.payload {
      case .headers(let headers):
        if response.headers == nil {
          response.headers = headers.headers
        } else {
          response.trailers = headers.headers
        }
        if headers.endStream { response.ended = true }
      case .data(let data):
        if case .byteBuffer(let buffer) = data.data { response.body += Array(buffer.readableBytesView) }
        if data.endStream { response.ended = true }
      case .rstStream(let code):
        response.reset = code
      default:
        break
      }
    }
    return response
  }

  struct Response {
    var headers: HPACKHeaders?
    var trailers: HPACKHeaders?
    var body: [UInt8] = []
    var ended = false
    var reset: HTTP2ErrorCode?

    var status: String? { self.headers?.first(name: ":status") }
    /// grpc-status from the trailers, or from the headers of a trailers-only response.
    var grpcStatus: Int? {
      (self.trailers?.first(name: "grpc-status") ?? self.headers?.first(name: "grpc-status")).flatMap { Int($0) }
    }
    var grpcMessage: String? {
      self.trailers?.first(name: "grpc-message") ?? self.headers?.first(name: "grpc-message")
    }
  }
}

/// Length-prefixes a message.
func grpcFrame(_ message: [UInt8], compressed: UInt8 = 0) -> [UInt8] {
  let n = UInt32(message.count)
  return [compressed, UInt8(n >> 24), UInt8((n >> 16) & 0xFF), UInt8((n >> 8) & 0xFF), UInt8(n & 0xFF)] + message
}
