//===----------------------------------------------------------------------===//
// Backpressure and flood limits of the HTTP/2 connection handler, frame by frame.
//===----------------------------------------------------------------------===//

import GRPC
import HTTP2
import NIOCore
import NIOEmbedded
import NIOHPACK
import NIOHTTP2
import TestSupport
import Testing

@Suite struct BackpressureTests {
  @Test func notWritableHoldsReadsAndOutputUntilWritableAgain() throws {
    let pair = try InMemoryHTTP2()
    let readsBefore = pair.reads.count
    pair.server.read()
    #expect(pair.reads.count == readsBefore + 1)  // writable: passed on

    pair.setServerWritable(false)
    pair.server.read()
    #expect(pair.reads.count == readsBefore + 1, "a read must be held while the channel is not writable")
    // What arrives meanwhile (the rest of a read batch) is processed, but nothing is written.
    try pair.client.writeOutbound(HTTP2Frame(streamID: 0, payload: .ping(HTTP2PingData(withInteger: 7), ack: false)))
    try pair.sendHeaders(stream: 1, path: "/test.Echo/Echo")
    try pair.sendData(stream: 1, grpcFrame([1, 2, 3]), endStream: true)
    #expect(pair.response(stream: 1).headers == nil, "no output while not writable")
    #expect(try pair.server.readOutbound(as: ByteBuffer.self) == nil)

    pair.setServerWritable(true)
    #expect(pair.reads.count == readsBefore + 2, "the held read goes on once writable")
    try pair.interact()
    let response = pair.response(stream: 1)
    #expect(response.grpcStatus == 0)
    #expect(response.body == grpcFrame([1, 2, 3]))
    let pingAcks = pair.clientFrames.filter {
      if case .ping(let data, ack: true) = $0.payload { return data == HTTP2PingData(withInteger: 7) }
      return false
    }
    #expect(pingAcks.count == 1)
    #expect(pair.server.isActive)
  }

  @Test func streamingWritesWaitForWritability() throws {
    let box = WriterBox()
    let streaming: [String: GRPCMethod] = [
      "/test.Echo/Watch": .serverStreaming { message, writer in box.writer = writer }
    ]
    let pair = try InMemoryHTTP2(responder: GRPCRouter(methods: streaming, maxMessageBytes: 1024))
    _ = try pair.call(stream: 1, path: "/test.Echo/Watch", body: grpcFrame([1]))
    let writer = try #require(box.writer)
    pair.setServerWritable(false)
    writer.send([7, 7])
    try pair.interact()
    #expect(pair.response(stream: 1).body.isEmpty, "a streaming write must not go out while not writable")
    pair.setServerWritable(true)
    try pair.interact()
    #expect(pair.response(stream: 1).body == grpcFrame([7, 7]))
  }

  @Test func largeResponseIsTakenFromNghttp2OnlyWhileWritable() throws {
    // 200 KB answer, window granted in full: output stops at the first chunk while not writable.
    let big = [UInt8](repeating: 9, count: 200_000)
    let pair = try InMemoryHTTP2(responder: GRPCRouter(methods: ["/test.Echo/Big": .unary { _, _ in big }], maxMessageBytes: 1024))
    try pair.client.writeOutbound(HTTP2Frame(streamID: 0, payload: .windowUpdate(windowSizeIncrement: 1 << 20)))
    try pair.client.writeOutbound(
      HTTP2Frame(streamID: 0, payload: .settings(.settings([HTTP2Setting(parameter: .initialWindowSize, value: 1 << 20)]))))
    try pair.interact()
    try pair.sendHeaders(stream: 1, path: "/test.Echo/Big")
    try pair.client.writeOutbound(
      HTTP2Frame(streamID: 1, payload: .data(.init(data: .byteBuffer(ByteBuffer(bytes: grpcFrame([]))), endStream: true))))
    // The peer stopped reading before its last request arrived.
    pair.server.isWritable = false
    while let bytes = try pair.client.readOutbound(as: ByteBuffer.self) {
      try pair.server.writeInbound(bytes)
    }
    var written = 0
    while let chunk = try pair.server.readOutbound(as: ByteBuffer.self) { written += chunk.readableBytes }
    #expect(written == 0, "nothing is taken from nghttp2 while not writable")
    pair.setServerWritable(true)
    while let chunk = try pair.server.readOutbound(as: ByteBuffer.self) { written += chunk.readableBytes }
    #expect(written > 200_000, "all of it once writable")
  }
}

@Suite struct ControlFrameFloodTests {
  private func floodedPair(limit: Int) throws -> InMemoryHTTP2 {
    let pair = try InMemoryHTTP2(settings: HTTP2.HTTP2Settings(maxOutboundControlFrames: limit), connectClient: false)
    try pair.sendRaw(RawFrame.clientPreface)
    _ = try pair.takeServerFrames()  // our SETTINGS and its acknowledgement
    return pair
  }

  private func expectEnhanceYourCalm(_ pair: InMemoryHTTP2, _ frames: [RawFrame], sourceLocation: SourceLocation = #_sourceLocation) {
    let goAways = frames.compactMap(\.goAway)
    #expect(goAways.count == 1, "\(frames)", sourceLocation: sourceLocation)
    #expect(goAways.first?.errorCode == 0xB, "ENHANCE_YOUR_CALM", sourceLocation: sourceLocation)
    #expect(!pair.server.isActive, "the connection must be closed", sourceLocation: sourceLocation)
    #expect(pair.notices.notices.map(\.kind) == [.flooded], sourceLocation: sourceLocation)
    #expect(pair.notices.notices.first?.reason.contains("ENHANCE_YOUR_CALM") == true, sourceLocation: sourceLocation)
  }

  @Test(arguments: ["PING", "SETTINGS"])
  func acknowledgementsOwedToAPeerThatDoesNotReadPassTheLimit(kind: String) throws {
    let pair = try self.floodedPair(limit: 10)
    let frame = kind == "PING" ? RawFrame.pingFrame() : RawFrame.settingsFrame
    // The peer stopped reading: our buffer is full. Each read holds fewer frames than the
    // limit, but the acknowledgements add up in nghttp2 since none can be written.
    pair.setServerWritable(false)
    var frames: [RawFrame] = []
    for _ in 0..<5 where pair.server.isActive {
      try pair.sendRaw(Array([[UInt8]](repeating: frame, count: 4).joined()))
      frames += try pair.takeServerFrames()
    }
    // No acknowledgement went out, only the GOAWAY (pending acknowledgements are dropped).
    #expect(frames.allSatisfy { $0.type == RawFrame.goAway }, "\(frames)")
    self.expectEnhanceYourCalm(pair, frames)
  }

  @Test func oneReadHoldingMoreAcknowledgementsThanTheLimitIsAFlood() throws {
    let pair = try self.floodedPair(limit: 10)
    try pair.sendRaw(Array([[UInt8]](repeating: RawFrame.pingFrame(), count: 11).joined()))
    self.expectEnhanceYourCalm(pair, try pair.takeServerFrames())
  }

  @Test func acknowledgementsThatLeaveAreNotAFlood() throws {
    // A peer that reads what it asked for may ping as often as it likes.
    let pair = try self.floodedPair(limit: 10)
    for _ in 0..<50 {
      try pair.sendRaw(Array([[UInt8]](repeating: RawFrame.pingFrame(), count: 5).joined()))
      let frames = try pair.takeServerFrames()
      #expect(frames.filter { $0.type == RawFrame.ping && $0.flags == RawFrame.ack }.count == 5)
    }
    #expect(pair.server.isActive)
    #expect(pair.notices.notices.isEmpty)
  }
}
