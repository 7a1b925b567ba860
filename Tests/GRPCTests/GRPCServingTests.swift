//===----------------------------------------------------------------------===//
// gRPC over our nghttp2 server, checked frame by frame with swift-nio-http2 as the client.
//===----------------------------------------------------------------------===//

import GRPC
import HTTP2
import NIOCore
import NIOEmbedded
import NIOHPACK
import NIOHTTP2
import TestSupport
import Testing

@Suite struct GRPCServingTests {
  @Test func serverPrefaceCarriesOurSettings() throws {
    let pair = try InMemoryHTTP2(settings: HTTP2.HTTP2Settings(maxConcurrentStreams: 7, initialWindowSize: 123_456))
    let settings = pair.clientFrames.compactMap { frame -> [HTTP2Setting]? in
      if case .settings(.settings(let values)) = frame.payload { return values }
      return nil
    }.first
    let values = try #require(settings)
    #expect(values.contains(HTTP2Setting(parameter: .maxConcurrentStreams, value: 7)))
    #expect(values.contains(HTTP2Setting(parameter: .initialWindowSize, value: 123_456)))
  }

  @Test func unaryCallGetsHeadersMessageAndOKTrailers() throws {
    let pair = try InMemoryHTTP2()
    let response = try pair.call(stream: 1, path: "/test.Echo/Echo", body: grpcFrame(Array("hello".utf8)))
    #expect(response.status == "200")
    #expect(response.headers?.first(name: "content-type") == "application/grpc")
    #expect(response.body == grpcFrame(Array("hello".utf8)))
    #expect(response.trailers?.first(name: "grpc-status") == "0")
    #expect(response.ended)
  }

  @Test(arguments: [1, 2, 3, 5, 6])
  func messageSplitAcrossDataFramesIsReassembled(chunk: Int) throws {
    let pair = try InMemoryHTTP2()
    let message = Array("split across many DATA frames".utf8)
    let response = try pair.call(stream: 1, path: "/test.Echo/Echo", body: grpcFrame(message), chunk: chunk)
    #expect(response.grpcStatus == 0)
    #expect(response.body == grpcFrame(message))
  }

  @Test func coalescedMessagesInAUnaryCallAreRejected() throws {
    let pair = try InMemoryHTTP2()
    let response = try pair.call(stream: 1, path: "/test.Echo/Echo", body: grpcFrame([1]) + grpcFrame([2]))
    #expect(response.grpcStatus == 3)
    #expect(response.grpcMessage?.contains("more than one message") == true)
  }

  @Test func unknownMethodIsUnimplementedAsTrailersOnly() throws {
    let pair = try InMemoryHTTP2()
    let response = try pair.call(stream: 1, path: "/test.Echo/Nope", body: grpcFrame([]))
    #expect(response.status == "200")
    #expect(response.grpcStatus == 12)
    #expect(response.trailers == nil)  // one HEADERS frame with END_STREAM
    #expect(response.ended)
    #expect(response.grpcMessage == "unknown method /test.Echo/Nope")
  }

  @Test func nonGRPCContentTypeIs415() throws {
    let pair = try InMemoryHTTP2()
    let response = try pair.call(stream: 1, path: "/test.Echo/Echo", body: grpcFrame([]), contentType: "application/json")
    #expect(response.status == "415")
    #expect(String(decoding: response.body, as: UTF8.self).contains("application/json"))
  }

  @Test(arguments: [
    ([UInt8](), 3, "empty"),
    ([0, 0, 0], 3, "5-byte message prefix"),
    ([0, 0, 0, 0, 9, 1, 2], 3, "declares 9 bytes but only 2"),
    ([7, 0, 0, 0, 0], 3, "compressed flag is 7"),
    ([1, 0, 0, 0, 1, 42], 12, "compressed messages are not supported"),
    ([0, 0, 0, 8, 0] + [UInt8](repeating: 0, count: 2048), 8, "exceeds the maximum"),
  ])
  func badFramesGetPreciseStatuses(body: [UInt8], code: Int, text: String) throws {
    let pair = try InMemoryHTTP2()
    let response = try pair.call(stream: 1, path: "/test.Echo/Echo", body: body)
    #expect(response.grpcStatus == code)
    #expect(response.grpcMessage.map { GRPCMessageEncoding.percentDecode($0) }?.contains(text) == true)
    // The connection is still good: a correct call on the next stream succeeds.
    let next = try pair.call(stream: 3, path: "/test.Echo/Echo", body: grpcFrame([42]))
    #expect(next.grpcStatus == 0)
    #expect(next.body == grpcFrame([42]))
    #expect(pair.server.isActive)
  }

  @Test func handlerStatusIsPercentEncodedInGrpcMessage() throws {
    let pair = try InMemoryHTTP2()
    let response = try pair.call(stream: 1, path: "/test.Echo/Fail", body: grpcFrame([]))
    #expect(response.grpcStatus == 7)
    #expect(response.grpcMessage == "nope: 100%25 %C3%BCnicode%0A")
  }

  @Test func oversizedBodyIsAnsweredAtOnceAndTheStreamReset() throws {
    let pair = try InMemoryHTTP2(
      settings: HTTP2.HTTP2Settings(maxRequestBodyBytes: 100),
      responder: GRPCRouter(methods: echoMethods, maxMessageBytes: 1 << 20)
    )
    try pair.sendHeaders(stream: 1, path: "/test.Echo/Echo")
    try pair.sendData(stream: 1, [UInt8](repeating: 0, count: 150), endStream: false)
    let response = pair.response(stream: 1)
    #expect(response.grpcStatus == 8)
    #expect(response.ended)
    #expect(response.reset == .noError)
    let next = try pair.call(stream: 3, path: "/test.Echo/Echo", body: grpcFrame([1]))
    #expect(next.grpcStatus == 0)
  }

  @Test func largeBodyFlowsThroughWindowUpdates() throws {
    // 3 MiB against a 64 KiB stream window: only works if the server grants more window.
    let pair = try InMemoryHTTP2(
      settings: HTTP2.HTTP2Settings(initialWindowSize: 65_535, connectionWindowSize: 65_535),
      responder: GRPCRouter(
        methods: ["/test.Echo/Size": .unary { message, _ in Array(String(message.readableBytes).utf8) }], maxMessageBytes: 4 << 20)
    )
    let message = [UInt8](repeating: 7, count: 3 << 20)
    let response = try pair.call(stream: 1, path: "/test.Echo/Size", body: grpcFrame(message), chunk: 16_384)
    #expect(response.grpcStatus == 0)
    #expect(response.body == grpcFrame(Array(String(3 << 20).utf8)))
  }

  @Test func largeResponseIsSentInManyDataFrames() throws {
    let big = [UInt8](repeating: 9, count: 200_000)
    let pair = try InMemoryHTTP2(responder: GRPCRouter(methods: ["/test.Echo/Big": .unary { _, _ in big }], maxMessageBytes: 1024))
    var response = try pair.call(stream: 1, path: "/test.Echo/Big", body: grpcFrame([]))
    // The client's 64 KiB window stops the server; granting more window must resume the body.
    #expect(response.body.count == 65_535)
    #expect(!response.ended)
    try pair.client.writeOutbound(HTTP2Frame(streamID: 1, payload: .windowUpdate(windowSizeIncrement: 1 << 20)))
    try pair.client.writeOutbound(HTTP2Frame(streamID: 0, payload: .windowUpdate(windowSizeIncrement: 1 << 20)))
    try pair.interact()
    response = pair.response(stream: 1)
    #expect(response.body.count == big.count + 5)
    #expect(response.grpcStatus == 0)
  }

  @Test func manyConcurrentStreamsOnOneConnection() throws {
    let pair = try InMemoryHTTP2()
    for stream in stride(from: 1, through: 99, by: 2) {
      try pair.sendHeaders(stream: stream, path: "/test.Echo/Echo")
    }
    for stream in stride(from: 1, through: 99, by: 2) {
      try pair.sendData(stream: stream, grpcFrame([UInt8(stream)]), endStream: true)
    }
    for stream in stride(from: 1, through: 99, by: 2) {
      let response = pair.response(stream: stream)
      #expect(response.grpcStatus == 0)
      #expect(response.body == grpcFrame([UInt8(stream)]))
    }
  }

  @Test func gracefulShutdownSendsGoAwayAndLetsOpenStreamsFinish() throws {
    let pair = try InMemoryHTTP2()
    try pair.sendHeaders(stream: 1, path: "/test.Echo/Echo")
    pair.server.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
    try pair.interact()
    let goaway = pair.clientFrames.compactMap { frame -> (HTTP2StreamID, HTTP2ErrorCode)? in
      if case .goAway(let last, let code, _) = frame.payload { return (last, code) }
      return nil
    }
    // Two phases: the notice (last stream 2^31-1), then, once the client acknowledged our
    // PING, the real last stream.
    #expect(goaway.map(\.0) == [HTTP2StreamID.maxID, 1])
    #expect(goaway.allSatisfy { $0.1 == .noError })
    #expect(pair.server.isActive)  // stream 1 is still open
    try pair.sendData(stream: 1, grpcFrame([5]), endStream: true)
    let response = pair.response(stream: 1)
    #expect(response.grpcStatus == 0)
    #expect(response.body == grpcFrame([5]))
    #expect(!pair.server.isActive)  // closed once the last stream finished
  }

  @Test func gracefulShutdownOfAnIdleConnectionClosesIt() throws {
    let pair = try InMemoryHTTP2()
    pair.server.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
    try pair.interact()
    #expect(!pair.server.isActive)
  }

  @Test func badClientPrefaceClosesTheConnection() throws {
    let pair = try InMemoryHTTP2(connectClient: false)
    #expect(throws: HTTP2Error.self) {
      try pair.sendRaw(Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
    }
    #expect(!pair.server.isActive)
  }

  @Test func connectionErrorSendsGoAwayProtocolError() throws {
    let pair = try InMemoryHTTP2()
    // A DATA frame on stream 0 is a connection error of type PROTOCOL_ERROR (RFC 9113 §6.1).
    try pair.sendRaw([0, 0, 1, 0x0, 0x0, 0, 0, 0, 0, 0xAA])
    var bytes: [UInt8] = []
    while let chunk = try pair.server.readOutbound(as: ByteBuffer.self) {
      bytes += Array(chunk.readableBytesView)
    }
    // Walk the frames (9-byte header: 24-bit length, type, flags, stream id) to find GOAWAY (0x7);
    // its payload is last-stream-id, error code, then debug data.
    var offset = 0
    var goawayErrorCode: UInt32?
    while offset + 9 <= bytes.count {
      let length = Int(bytes[offset]) << 16 | Int(bytes[offset + 1]) << 8 | Int(bytes[offset + 2])
      if bytes[offset + 3] == 0x7, length >= 8 {
        let p = offset + 9 + 4
        goawayErrorCode = UInt32(bytes[p]) << 24 | UInt32(bytes[p + 1]) << 16 | UInt32(bytes[p + 2]) << 8 | UInt32(bytes[p + 3])
      }
      offset += 9 + length
    }
    #expect(goawayErrorCode == 1)  // PROTOCOL_ERROR
    #expect(!pair.server.isActive)
  }
}

@Suite struct GRPCFramingTests {
  @Test func deframerHandlesBytesOneAtATime() throws {
    var deframer = GRPCMessageDeframer(maxMessageBytes: 100)
    let bytes = grpcFrame([1, 2, 3]) + grpcFrame([]) + grpcFrame([4])
    var messages: [[UInt8]] = []
    for byte in bytes {
      deframer.append(ByteBuffer(bytes: [byte]))
      while let message = try deframer.next() { messages.append(Array(message.readableBytesView)) }
    }
    #expect(messages == [[1, 2, 3], [], [4]])
    #expect(deframer.pendingBytes == 0)
  }

  @Test func deframerRejectsOversizeBeforeTheBodyArrives() {
    var deframer = GRPCMessageDeframer(maxMessageBytes: 10)
    deframer.append(ByteBuffer(bytes: [0, 0, 0, 0, 11]))
    #expect(throws: GRPCStatus(.resourceExhausted, "message of 11 bytes exceeds the maximum of 10 bytes")) {
      try deframer.next()
    }
  }

  @Test func framerWritesBigEndianPrefix() {
    var buffer = ByteBuffer()
    GRPCMessageFramer.write([UInt8](repeating: 1, count: 258), into: &buffer)
    #expect(Array(buffer.readableBytesView.prefix(5)) == [0, 0, 0, 1, 2])
    #expect(buffer.readableBytes == 263)
  }

  @Test(arguments: [
    ("plain ascii", "plain ascii"),
    ("100%", "100%25"),
    ("line\nbreak", "line%0Abreak"),
    ("ü", "%C3%BC"),
    ("\u{7F}", "%7F"),
  ])
  func percentEncoding(raw: String, encoded: String) {
    #expect(GRPCMessageEncoding.percentEncode(raw) == encoded)
    #expect(GRPCMessageEncoding.percentDecode(encoded) == raw)
  }
}

@Suite struct GRPCServerStreamingTests {
  private func makePair(_ box: WriterBox, finishOnShutdown: Bool = true) throws -> InMemoryHTTP2 {
    let streaming: [String: GRPCMethod] = [
      "/test.Echo/Watch": .serverStreaming { message, writer in
        box.writer = writer
        writer.send(Array(message.readableBytesView))  // first message at once
        writer.onClose { box.closed += 1 }
        if finishOnShutdown {
          writer.onGracefulShutdown {
            writer.send([0xDD])
            writer.finish(.ok)
          }
        }
      }
    ]
    return try InMemoryHTTP2(responder: GRPCRouter(methods: echoMethods.merging(streaming) { first, _ in first }, maxMessageBytes: 1024))
  }

  @Test func messagesFlowOverTimeThenTrailersEndTheCall() throws {
    let box = WriterBox()
    let pair = try self.makePair(box)
    var response = try pair.call(stream: 1, path: "/test.Echo/Watch", body: grpcFrame([1]))
    #expect(response.status == "200")
    #expect(response.body == grpcFrame([1]))
    #expect(!response.ended)
    let writer = try #require(box.writer)
    writer.send([2])
    writer.send([3, 3])
    try pair.interact()
    response = pair.response(stream: 1)
    #expect(response.body == grpcFrame([1]) + grpcFrame([2]) + grpcFrame([3, 3]))
    #expect(!response.ended)
    // Unary calls on the same connection are unaffected by the open stream.
    #expect(try pair.call(stream: 3, path: "/test.Echo/Echo", body: grpcFrame([9])).grpcStatus == 0)
    writer.finish(GRPCStatus(.ok))
    try pair.interact()
    response = pair.response(stream: 1)
    #expect(response.ended)
    #expect(response.grpcStatus == 0)
    #expect(box.closed == 1)
    writer.send([4])  // after the end: ignored, no crash
    try pair.interact()
    #expect(pair.response(stream: 1).body.count == response.body.count)
  }

  @Test func clientResetClosesTheCall() throws {
    let box = WriterBox()
    let pair = try self.makePair(box)
    _ = try pair.call(stream: 1, path: "/test.Echo/Watch", body: grpcFrame([1]))
    try pair.client.writeOutbound(HTTP2Frame(streamID: 1, payload: .rstStream(.cancel)))
    try pair.interact()
    #expect(box.closed == 1)
    #expect(pair.server.isActive)
  }

  @Test func gracefulShutdownAsksOpenStreamsToFinishThenCloses() throws {
    let box = WriterBox()
    let pair = try self.makePair(box)
    _ = try pair.call(stream: 1, path: "/test.Echo/Watch", body: grpcFrame([1]))
    pair.server.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
    try pair.interact()
    let response = pair.response(stream: 1)
    #expect(response.body == grpcFrame([1]) + grpcFrame([0xDD]))
    #expect(response.grpcStatus == 0)
    #expect(box.closed == 1)
    #expect(!pair.server.isActive)
  }

  @Test func streamingPathWithoutGRPCContentTypeIs415() throws {
    let pair = try self.makePair(WriterBox())
    let response = try pair.call(stream: 1, path: "/test.Echo/Watch", body: grpcFrame([1]), contentType: "text/plain")
    #expect(response.status == "415")
  }

  @Test func badRequestMessageEndsAStreamingCallTrailersOnly() throws {
    let pair = try self.makePair(WriterBox())
    let response = try pair.call(stream: 1, path: "/test.Echo/Watch", body: [1, 0, 0, 0, 0])
    #expect(response.grpcStatus == 12)
    #expect(response.trailers == nil)
  }
}

@Suite struct ConnectionBufferBoundTests {
  @Test func unfinishedHeaderListsCountTowardTheConnectionBound() throws {
    // Streams that never end their requests hold their header lists: with ~1.3 KB each, two fit
    // in a 3000-byte connection bound and the third is reset, whatever maxConcurrentStreams says.
    let pair = try InMemoryHTTP2(
      settings: HTTP2.HTTP2Settings(maxBufferedBytesPerConnection: 3000),
      responder: GRPCRouter(methods: echoMethods, maxMessageBytes: 1024)
    )
    let big = [("x-big", String(repeating: "v", count: 1000))]
    for stream in [1, 3, 5] {
      try pair.sendHeaders(stream: stream, path: "/test.Echo/Echo", extra: big)
    }
    #expect(pair.response(stream: 1).reset == nil)
    #expect(pair.response(stream: 3).reset == nil)
    #expect(pair.response(stream: 5).reset != nil, "the third header list passes the connection bound")
    // Resetting stream 1 gives its header bytes back: a new stream fits, and completes.
    try pair.client.writeOutbound(HTTP2Frame(streamID: 1, payload: .rstStream(.cancel)))
    try pair.interact()
    try pair.sendHeaders(stream: 7, path: "/test.Echo/Echo", extra: big)
    try pair.sendData(stream: 7, grpcFrame([1, 2, 3]), endStream: true)
    #expect(pair.response(stream: 7).grpcStatus == 0)
    #expect(pair.response(stream: 7).reset == nil)
  }

  @Test func unfinishedStreamsCannotBufferMoreThanTheConnectionBound() throws {
    // Each stream alone is within its 1000-byte limit, but together they pass the 3300-byte
    // connection bound (each stream holds ~290 bytes of header list and 900 of body): the stream
    // whose body crosses it is answered RESOURCE_EXHAUSTED at once.
    let pair = try InMemoryHTTP2(
      settings: HTTP2.HTTP2Settings(maxRequestBodyBytes: 1000, maxBufferedBytesPerConnection: 3300),
      responder: GRPCRouter(methods: echoMethods, maxMessageBytes: 995)
    )
    for stream in [1, 3, 5] {
      try pair.sendHeaders(stream: stream, path: "/test.Echo/Echo")
      try pair.sendData(stream: stream, [UInt8](repeating: 0, count: 900), endStream: false)
    }
    #expect(pair.response(stream: 1).headers == nil)
    #expect(pair.response(stream: 3).headers == nil)
    #expect(pair.response(stream: 5).grpcStatus == 8)
    // Resetting stream 1 returns its 900 bytes: a new call fits again.
    try pair.client.writeOutbound(HTTP2Frame(streamID: 1, payload: .rstStream(.cancel)))
    try pair.interact()
    let next = try pair.call(stream: 7, path: "/test.Echo/Echo", body: grpcFrame([UInt8](repeating: 1, count: 800)))
    #expect(next.grpcStatus == 0)
  }
}
