//===----------------------------------------------------------------------===//
// Augmenter fuzzing — the nghttp2 server session (HTTP2ServerConnectionHandler) on raw bytes.
//===----------------------------------------------------------------------===//

import FuzzSupport
import HTTP2
import NIOCore
import NIOEmbedded

// Input: [mode byte][split-size count byte][split sizes...][client bytes after the preface].
// The client preface is always sent first; mode bit 0 sends a graceful-shutdown event halfway.
//
// Invariants:
// - no crash and no leak (ASan) whatever the client sends, on any split of its bytes;
// - what the server writes is a whole number of well-formed HTTP/2 frames: the first is a
//   non-ACK SETTINGS on stream 0; SETTINGS, PING and GOAWAY on stream 0 only, with their fixed
//   or multiple-of-6 lengths; PINGs are ACKs, but for the one a graceful close sends with its
//   GOAWAY notice; DATA, HEADERS,
//   RST_STREAM on a stream other than 0; no frame over the client's SETTINGS_MAX_FRAME_SIZE;
// - the server answers (HEADERS, DATA) only streams the client opened with HEADERS, and sends
//   nothing once the channel is closed.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHTTP2Session(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
  var input = FuzzInput(data, size)
  let all = input.bytes
  let mode = input.byte()
  var sizes = FuzzInput(Array(input.take(Int(input.byte()) % 16)))
  let payload = input.rest()

  let channel = EmbeddedChannel()
  let handler = HTTP2ServerConnectionHandler(
    settings: HTTP2Settings(maxConcurrentStreams: 8, initialWindowSize: 65_535, maxRequestBodyBytes: 1024),
    responder: EchoResponder()
  )
  do {
    try channel.pipeline.syncOperations.addHandler(handler)
    try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
  } catch {
    fuzzFailure("setting up the channel failed: \(error)", input: all)
  }

  var written: [UInt8] = []
  func drain() {
    while let buffer = try? channel.readOutbound(as: ByteBuffer.self) {
      written += buffer.readableBytesView
    }
  }
  let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)
  var chunks = [preface[...]] + input.chunks(of: payload, sizes: &sizes)
  let shutdownAt = mode & 1 == 1 ? chunks.count / 2 : -1
  var closedAt: Int?
  for (index, chunk) in chunks.enumerated() {
    if index == shutdownAt {
      channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
      channel.embeddedEventLoop.run()
      drain()
      if !channel.isActive { closedAt = written.count }
    }
    guard channel.isActive else { break }
    // Errors reach the end of the pipeline as thrown errors: expected for bad input.
    _ = try? channel.writeInbound(ByteBuffer(bytes: chunk))
    channel.embeddedEventLoop.run()
    drain()
    if !channel.isActive, closedAt == nil { closedAt = written.count }
  }
  chunks.removeAll()
  _ = try? channel.finish()
  drain()
  if let closedAt {
    fuzzCheck(written.count == closedAt, "bytes written after the channel closed", input: all)
  }

  let client = clientFrames(Array(payload))
  checkServerFrames(written, client: client, input: all)
  return 0
}

/// What the client's bytes hold, read as frames the way the server's parser does (by length).
struct ClientView {
  var openedStreams = Set<UInt32>()
  var referencedStreams = Set<UInt32>()
  var maxFrameSize = 16_384
}

func clientFrames(_ bytes: [UInt8]) -> ClientView {
  var view = ClientView()
  var offset = 0
  while offset + 9 <= bytes.count {
    let length = Int(bytes[offset]) << 16 | Int(bytes[offset + 1]) << 8 | Int(bytes[offset + 2])
    let type = bytes[offset + 3]
    let stream =
      (UInt32(bytes[offset + 5]) << 24 | UInt32(bytes[offset + 6]) << 16
        | UInt32(bytes[offset + 7]) << 8 | UInt32(bytes[offset + 8])) & 0x7FFF_FFFF
    view.referencedStreams.insert(stream)
    if type == 1 { view.openedStreams.insert(stream) }
    // PRIORITY_UPDATE-free: a PUSH_PROMISE's promised id counts as referenced too.
    let end = min(bytes.count, offset + 9 + length)
    if type == 4 {
      var setting = offset + 9
      while setting + 6 <= end {
        if bytes[setting] == 0 && bytes[setting + 1] == 5 {
          let value = Int(bytes[setting + 2]) << 24 | Int(bytes[setting + 3]) << 16 | Int(bytes[setting + 4]) << 8 | Int(bytes[setting + 5])
          view.maxFrameSize = max(view.maxFrameSize, min(value, 16_777_215))
        }
        setting += 6
      }
    }
    offset += 9 + length
  }
  return view
}

func checkServerFrames(_ bytes: [UInt8], client: ClientView, input: [UInt8]) {
  var offset = 0
  var first = true
  // A graceful close (the shutdown event, or the idle timeout) sends a GOAWAY notice and one
  // PING of its own, whose acknowledgement says the peer has seen the notice.
  var sawGoAway = false
  var serverPings = 0
  while offset < bytes.count {
    fuzzCheck(offset + 9 <= bytes.count, "the server wrote a partial frame header", input: input)
    let length = Int(bytes[offset]) << 16 | Int(bytes[offset + 1]) << 8 | Int(bytes[offset + 2])
    let type = bytes[offset + 3]
    let flags = bytes[offset + 4]
    let stream =
      (UInt32(bytes[offset + 5]) << 24 | UInt32(bytes[offset + 6]) << 16
        | UInt32(bytes[offset + 7]) << 8 | UInt32(bytes[offset + 8])) & 0x7FFF_FFFF
    fuzzCheck(offset + 9 + length <= bytes.count, "the server wrote a partial frame", input: input)
    fuzzCheck(length <= client.maxFrameSize, "frame of \(length) bytes over the peer's maximum", input: input)
    if first {
      fuzzCheck(type == 4 && flags & 1 == 0 && stream == 0, "the server's first frame is not its SETTINGS", input: input)
      first = false
    }
    switch type {
    case 0, 1:  // DATA, HEADERS
      fuzzCheck(stream != 0, "DATA/HEADERS on stream 0", input: input)
      fuzzCheck(client.openedStreams.contains(stream), "answer on stream \(stream) the client never opened", input: input)
    case 3:  // RST_STREAM
      fuzzCheck(stream != 0 && length == 4, "bad RST_STREAM", input: input)
      fuzzCheck(client.referencedStreams.contains(stream), "RST_STREAM on stream \(stream) the client never named", input: input)
    case 4:  // SETTINGS
      fuzzCheck(stream == 0 && length % 6 == 0, "bad SETTINGS", input: input)
      fuzzCheck(flags & 1 == 0 || length == 0, "SETTINGS ACK with a payload", input: input)
    case 6:  // PING
      fuzzCheck(stream == 0 && length == 8, "bad PING", input: input)
      if flags & 1 == 0 {
        // nghttp2 may write the PING before or after the notice: checked once all is read.
        serverPings += 1
      }
    case 7:  // GOAWAY
      fuzzCheck(stream == 0 && length >= 8, "bad GOAWAY", input: input)
      sawGoAway = true
    case 8:  // WINDOW_UPDATE
      fuzzCheck(length == 4, "bad WINDOW_UPDATE", input: input)
      if stream != 0 {
        fuzzCheck(client.referencedStreams.contains(stream), "WINDOW_UPDATE on stream \(stream) the client never named", input: input)
      }
    case 9:  // CONTINUATION
      fuzzCheck(stream != 0 && client.openedStreams.contains(stream), "bad CONTINUATION", input: input)
    default:
      fuzzFailure("the server wrote a frame of type \(type)", input: input)
    }
    offset += 9 + length
  }
  fuzzCheck(
    serverPings == 0 || (serverPings == 1 && sawGoAway), "the server pinged \(serverPings) time(s) without a graceful close", input: input)
}

/// Answers every request: 200, the request's body echoed, a gRPC-like trailer; 413 when oversized.
struct EchoResponder: HTTP2RequestResponder {
  func respond(to request: HTTP2Request, allocator: ByteBufferAllocator) -> HTTP2Response {
    HTTP2Response(
      status: 200,
      headers: [HTTP2Header("content-type", "application/grpc"), HTTP2Header("x-path-bytes", String(request.head.path.utf8.count))],
      body: request.body,
      trailers: request.head.method == "POST" ? [HTTP2Header("grpc-status", "0")] : nil
    )
  }

  func respondToOversizedRequest(_ head: HTTP2RequestHead, allocator: ByteBufferAllocator) -> HTTP2Response {
    HTTP2Response(status: 413)
  }

  /// ext_proc's path is streamed: the transport's streaming-request side is fuzzed too.
  var streamingRequestPaths: [String] { [EchoStream.path] }

  func startStream(
    _ head: HTTP2RequestHead, peerIdentity: String?, writer: HTTP2StreamWriter, allocator: ByteBufferAllocator
  ) -> HTTP2StreamStart {
    guard head.method == "POST" else { return .respond(HTTP2Response(status: 405)) }
    return .stream(status: 200, headers: [HTTP2Header("content-type", "application/grpc")], receiver: EchoStream(writer: writer))
  }
}

/// Echoes each chunk of a streaming request as it arrives, holding back every third byte
/// (reported as held, so the transport's bounds are exercised), and ends with a trailer when
/// the client ends or the bound is passed.
final class EchoStream: HTTP2RequestBodyStream {
  static let path = "/envoy.service.ext_proc.v3.ExternalProcessor/Process"
  let writer: HTTP2StreamWriter
  var held = 0

  init(writer: HTTP2StreamWriter) {
    self.writer = writer
  }

  func started() {}

  func receive(_ bytes: ByteBuffer) -> Int {
    self.held += bytes.readableBytes / 3
    self.writer.write(bytes)
    return self.held
  }

  func receiveEnd() {
    self.writer.finish(trailers: [HTTP2Header("grpc-status", "0")])
  }

  func bufferLimitExceeded() {
    self.writer.finish(trailers: [HTTP2Header("grpc-status", "8")])
  }
}

@main enum FuzzHTTP2SessionMain {
  static func main() { runFuzzer(fuzzHTTP2Session) }
}
