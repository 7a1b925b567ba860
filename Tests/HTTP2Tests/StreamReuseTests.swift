//===----------------------------------------------------------------------===//
// Reused per-stream state and shared framed replies: nothing of one request leaks into the next.
//===----------------------------------------------------------------------===//

import GRPC
import HTTP2
import NIOCore
import NIOEmbedded
import NIOHPACK
import NIOHTTP2
import Synchronization
import TestSupport
import Testing

/// Answers 200 and remembers every request head it saw.
final class RecordingResponder: HTTP2RequestResponder {
  private let heads = Mutex<[HTTP2RequestHead]>([])

  var seen: [HTTP2RequestHead] { self.heads.withLock { $0 } }

  func respond(to request: HTTP2Request, allocator: ByteBufferAllocator) -> HTTP2Response {
    self.heads.withLock { $0.append(request.head) }
    return HTTP2Response(status: 200, body: allocator.buffer(string: "body \(request.body.readableBytes)"))
  }

  func respondToOversizedRequest(_ head: HTTP2RequestHead, allocator: ByteBufferAllocator) -> HTTP2Response {
    self.heads.withLock { $0.append(head) }
    return HTTP2Response(status: 413)
  }
}

@Suite struct StreamReuseTests {
  private func send(_ pair: InMemoryHTTP2, stream: Int, _ headers: HPACKHeaders, body: [UInt8]?) throws {
    let endHeaders = body == nil
    try pair.client.writeOutbound(
      HTTP2Frame(streamID: HTTP2StreamID(stream), payload: .headers(.init(headers: headers, endStream: endHeaders)))
    )
    if let body {
      let data = HTTP2Frame.FramePayload.data(.init(data: .byteBuffer(ByteBuffer(bytes: body)), endStream: true))
      try pair.client.writeOutbound(HTTP2Frame(streamID: HTTP2StreamID(stream), payload: data))
    }
    try pair.interact()
  }

  @Test func eachRequestSeesOnlyItsOwnHeaders() throws {
    let responder = RecordingResponder()
    let pair = try InMemoryHTTP2(responder: responder)
    // Sequential requests on one connection: each stream closes before the next opens, so the
    // server reuses the closed stream's state for the next one.
    try self.send(
      pair, stream: 1,
      [":method": "POST", ":scheme": "https", ":path": "/one", ":authority": "first.example", "x-a": "1", "x-b": "2"],
      body: [1, 2, 3])
    try self.send(pair, stream: 3, [":method": "GET", ":scheme": "http", ":path": "/two", "host": "host.example"], body: nil)
    // (A request with neither :authority nor host is refused by nghttp2 itself.)
    try self.send(pair, stream: 5, [":method": "GET", ":scheme": "http", ":path": "/three", ":authority": "five"], body: nil)
    try self.send(pair, stream: 7, [":method": "PUT", ":scheme": "http", ":path": "/four", ":authority": "four", "x-c": "3"], body: [])

    let heads = responder.seen
    try #require(heads.count == 4)
    #expect(heads[0].method == "POST" && heads[0].path == "/one" && heads[0].scheme == "https")
    #expect(heads[0].authority == "first.example")
    #expect(heads[0].headers == [HTTP2Header("x-a", "1"), HTTP2Header("x-b", "2")])
    #expect(heads[1].method == "GET" && heads[1].path == "/two")
    #expect(heads[1].authority == "host.example")  // from `host`, no :authority sent
    #expect(heads[1].headers == [HTTP2Header("host", "host.example")])
    #expect(heads[2].authority == "five")
    #expect(heads[2].headers.isEmpty)  // nothing left over from earlier streams
    #expect(heads[3].method == "PUT" && heads[3].authority == "four")
    #expect(heads[3].headers == [HTTP2Header("x-c", "3")])
    for stream in [1, 3, 5, 7] {
      #expect(pair.response(stream: stream).status == "200")
    }
    #expect(pair.response(stream: 1).body == Array("body 3".utf8))
    #expect(pair.response(stream: 3).body == Array("body 0".utf8))
  }

  @Test func aStreamAfterAnOversizedOneStartsClean() throws {
    let responder = RecordingResponder()
    let pair = try InMemoryHTTP2(settings: HTTP2.HTTP2Settings(maxRequestBodyBytes: 100), responder: responder)
    try pair.sendHeaders(stream: 1, path: "/big")
    try pair.sendData(stream: 1, [UInt8](repeating: 0, count: 150), endStream: true)
    #expect(pair.response(stream: 1).status == "413")
    try self.send(pair, stream: 3, [":method": "POST", ":scheme": "http", ":path": "/small", ":authority": "a"], body: [9])
    #expect(pair.response(stream: 3).status == "200")
    #expect(pair.response(stream: 3).body == Array("body 1".utf8))
  }

  @Test func aFramedReplyIsSentAsIsAndStaysIntactAcrossCalls() throws {
    let reply = GRPCMessageFramer.framed(Array("shared reply".utf8), allocator: ByteBufferAllocator())
    let router = GRPCRouter(
      methods: echoMethods.merging(["/test.Framed/Get": .framedUnary { _, _ in reply }]) { first, _ in first },
      maxMessageBytes: 1024
    )
    let pair = try InMemoryHTTP2(responder: router)
    for stream in stride(from: 1, through: 9, by: 2) {
      let response = try pair.call(stream: stream, path: "/test.Framed/Get", body: grpcFrame([UInt8(stream)]))
      #expect(response.grpcStatus == 0)
      #expect(response.body == grpcFrame(Array("shared reply".utf8)))
    }
    #expect(reply.readableBytes == 5 + 12)  // the shared buffer was read, never consumed
    // Unframed methods still work beside framed ones.
    #expect(try pair.call(stream: 11, path: "/test.Echo/Echo", body: grpcFrame([4, 2])).body == grpcFrame([4, 2]))
  }
}
