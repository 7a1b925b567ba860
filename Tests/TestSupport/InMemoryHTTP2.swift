//===----------------------------------------------------------------------===//
// Test support: our nghttp2 server handler and swift-nio-http2's client, connected in memory.
//===----------------------------------------------------------------------===//

package import GRPC
package import HTTP2
package import NIOCore
package import NIOEmbedded
package import NIOHPACK
package import NIOHTTP2
import Testing

/// A unary echo-ish gRPC method set used by the tests: `/test.Echo/Echo` returns its input.
package let echoMethods: [String: GRPCMethod] = [
  "/test.Echo/Echo": .unary { message, _ in Array(message.readableBytesView) },
  "/test.Echo/Fail": .unary { _, _ throws(GRPCStatus) in throw GRPCStatus(.permissionDenied, "nope: 100% ünicode\n") },
]

/// Server and client channels, bytes moved between them by `interact()`.
package final class InMemoryHTTP2 {
  package let server: EmbeddedChannel
  package let client: EmbeddedChannel
  package private(set) var clientFrames: [HTTP2Frame] = []
  /// Counts the `read` calls that got past the server handler (it holds them back while the
  /// channel is not writable).
  package let reads: ReadCounter
  /// What the server handler fired down the pipeline (its reasons for closing).
  package let notices: NoticeRecorder

  /// - Parameter clientSettings: the SETTINGS swift-nio-http2's client sends (its receive
  ///   window, say); nil: its defaults.
  package init(
    settings: HTTP2.HTTP2Settings = HTTP2.HTTP2Settings(),
    responder: any HTTP2RequestResponder = GRPCRouter(methods: echoMethods, maxMessageBytes: 1024),
    connectClient: Bool = true,
    clientSettings: NIOHTTP2.HTTP2Settings? = nil
  ) throws {
    let reads = ReadCounter()
    let notices = NoticeRecorder()
    self.reads = reads
    self.notices = notices
    self.server = EmbeddedChannel(
      handlers: [reads, HTTP2ServerConnectionHandler(settings: settings, responder: responder), notices]
    )
    self.client = EmbeddedChannel(
      handler: NIOHTTP2Handler(mode: .client, initialSettings: clientSettings ?? nioDefaultSettings))
    try self.server.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
    if connectClient {
      try self.client.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 2)).wait()
      try self.interact()
    }
  }

  /// Moves bytes both ways until neither side has anything left to send.
  package func interact() throws {
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
  package func sendRaw(_ bytes: [UInt8]) throws {
    try self.server.writeInbound(ByteBuffer(bytes: bytes))
  }

  /// Everything the server wrote and the client was not given, as raw frames.
  package func takeServerFrames() throws -> [RawFrame] {
    var bytes: [UInt8] = []
    while let chunk = try self.server.readOutbound(as: ByteBuffer.self) {
      bytes += Array(chunk.readableBytesView)
    }
    return RawFrame.parse(bytes)
  }

  /// Marks the server channel writable or not, as NIO does when its outbound buffer crosses
  /// the water marks.
  package func setServerWritable(_ writable: Bool) {
    self.server.isWritable = writable
    self.server.pipeline.fireChannelWritabilityChanged()
  }

  package func sendHeaders(
    stream: Int, path: String, contentType: String? = "application/grpc", method: String = "POST",
    endStream: Bool = false, extra: [(String, String)] = []
  ) throws {
    var headers: HPACKHeaders = [
      ":method": method, ":scheme": "http", ":path": path, ":authority": "augmenter", "te": "trailers",
    ]
    if let contentType { headers.add(name: "content-type", value: contentType) }
    for (name, value) in extra { headers.add(name: name, value: value) }
    let payload = HTTP2Frame.FramePayload.headers(.init(headers: headers, endStream: endStream))
    try self.client.writeOutbound(HTTP2Frame(streamID: HTTP2StreamID(stream), payload: payload))
    try self.interact()
  }

  package func sendData(stream: Int, _ bytes: [UInt8], endStream: Bool) throws {
    let payload = HTTP2Frame.FramePayload.data(.init(data: .byteBuffer(ByteBuffer(bytes: bytes)), endStream: endStream))
    try self.client.writeOutbound(HTTP2Frame(streamID: HTTP2StreamID(stream), payload: payload))
    try self.interact()
  }

  /// One unary call: headers, the body (optionally in chunks), END_STREAM.
  package func call(stream: Int, path: String, body: [UInt8], chunk: Int? = nil, contentType: String? = "application/grpc") throws
    -> Response
  {
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
  package func response(stream: Int) -> Response {
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

  package struct Response {
    package var headers: HPACKHeaders?
    package var trailers: HPACKHeaders?
    package var body: [UInt8] = []
    package var ended = false
    package var reset: HTTP2ErrorCode?

    package var status: String? { self.headers?.first(name: ":status") }
    /// grpc-status from the trailers, or from the headers of a trailers-only response.
    package var grpcStatus: Int? {
      (self.trailers?.first(name: "grpc-status") ?? self.headers?.first(name: "grpc-status")).flatMap { Int($0) }
    }
    package var grpcMessage: String? {
      self.trailers?.first(name: "grpc-message") ?? self.headers?.first(name: "grpc-message")
    }
  }
}

/// Length-prefixes a message.
package func grpcFrame(_ message: [UInt8], compressed: UInt8 = 0) -> [UInt8] {
  let n = UInt32(message.count)
  return [compressed, UInt8(n >> 24), UInt8((n >> 16) & 0xFF), UInt8((n >> 8) & 0xFF), UInt8(n & 0xFF)] + message
}

/// One HTTP/2 frame as it is on the wire (RFC 9113 §4.1), for checking the server's bytes
/// without a client's interpretation.
package struct RawFrame: Equatable {
  package var type: UInt8
  package var flags: UInt8
  package var streamID: UInt32
  package var payload: [UInt8]

  package static let data: UInt8 = 0x0
  package static let headers: UInt8 = 0x1
  package static let rstStream: UInt8 = 0x3
  package static let settings: UInt8 = 0x4
  package static let ping: UInt8 = 0x6
  package static let goAway: UInt8 = 0x7
  package static let ack: UInt8 = 0x1

  /// For GOAWAY: last-stream-id and error code.
  package var goAway: (lastStreamID: UInt32, errorCode: UInt32)? {
    guard self.type == Self.goAway, self.payload.count >= 8 else { return nil }
    return (Self.uint32(self.payload, 0) & 0x7FFF_FFFF, Self.uint32(self.payload, 4))
  }

  /// Complete frames at the start of `bytes`.
  package static func parse(_ bytes: [UInt8]) -> [RawFrame] {
    var frames: [RawFrame] = []
    var offset = 0
    while offset + 9 <= bytes.count {
      let length = Int(bytes[offset]) << 16 | Int(bytes[offset + 1]) << 8 | Int(bytes[offset + 2])
      guard offset + 9 + length <= bytes.count else { break }
      frames.append(
        RawFrame(
          type: bytes[offset + 3],
          flags: bytes[offset + 4],
          streamID: uint32(bytes, offset + 5) & 0x7FFF_FFFF,
          payload: Array(bytes[(offset + 9)..<(offset + 9 + length)])
        )
      )
      offset += 9 + length
    }
    return frames
  }

  /// The bytes of a frame.
  package static func encode(type: UInt8, flags: UInt8 = 0, streamID: UInt32 = 0, payload: [UInt8] = []) -> [UInt8] {
    let n = payload.count
    return [UInt8(n >> 16 & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n & 0xFF), type, flags]
      + [UInt8(streamID >> 24 & 0x7F), UInt8(streamID >> 16 & 0xFF), UInt8(streamID >> 8 & 0xFF), UInt8(streamID & 0xFF)]
      + payload
  }

  /// The client connection preface and an empty SETTINGS frame.
  package static let clientPreface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8) + encode(type: settings)
  /// A PING (not an acknowledgement).
  package static func pingFrame(_ value: UInt8 = 1) -> [UInt8] { encode(type: ping, payload: [0, 0, 0, 0, 0, 0, 0, value]) }
  /// An empty SETTINGS frame (not an acknowledgement).
  package static let settingsFrame = encode(type: settings)

  private static func uint32(_ bytes: [UInt8], _ at: Int) -> UInt32 {
    UInt32(bytes[at]) << 24 | UInt32(bytes[at + 1]) << 16 | UInt32(bytes[at + 2]) << 8 | UInt32(bytes[at + 3])
  }
}

/// Counts outbound `read` calls that reach it (place it before the handler under test).
package final class ReadCounter: ChannelOutboundHandler {
  package typealias OutboundIn = Never
  package private(set) var count = 0

  package func read(context: ChannelHandlerContext) {
    self.count += 1
    context.read()
  }
}

/// Records the `HTTP2ConnectionNotice`s fired by the handler before it.
package final class NoticeRecorder: ChannelInboundHandler {
  package typealias InboundIn = Never
  package private(set) var notices: [HTTP2ConnectionNotice] = []

  package func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
    if let notice = event as? HTTP2ConnectionNotice {
      self.notices.append(notice)
    }
    context.fireUserInboundEventTriggered(event)
  }
}

/// Holds the writer of a streaming call so the test can push messages later.
package final class WriterBox: @unchecked Sendable {
  package var writer: GRPCServerStreamWriter?
  package var closed = 0

  /// An empty box.
  package init() {}
}
