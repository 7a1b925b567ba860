//===----------------------------------------------------------------------===//
// Idle timeout and the two-phase GOAWAY of the HTTP/2 connection handler.
//===----------------------------------------------------------------------===//

import GRPC
import HTTP2
import NIOCore
import NIOEmbedded
import NIOHPACK
import NIOHTTP2
import TestSupport
import Testing

/// The GOAWAYs the client received: last stream id and error code.
private func goAways(_ pair: InMemoryHTTP2) -> [(HTTP2StreamID, HTTP2ErrorCode)] {
  pair.clientFrames.compactMap { frame in
    if case .goAway(let last, let code, _) = frame.payload { return (last, code) }
    return nil
  }
}

@Suite struct IdleTimeoutTests {
  private let settings = HTTP2.HTTP2Settings(idleTimeout: .seconds(10))

  @Test func idleConnectionGetsNoticeThenFinalGoAwayThenCloses() throws {
    let pair = try InMemoryHTTP2(settings: self.settings)
    pair.server.embeddedEventLoop.advanceTime(by: .seconds(9))
    try pair.interact()
    #expect(goAways(pair).isEmpty)
    #expect(pair.server.isActive)

    pair.server.embeddedEventLoop.advanceTime(by: .seconds(1))
    // The client sees the notice, answers our PING, and the final GOAWAY follows at once.
    try pair.interact()
    let seen = goAways(pair)
    #expect(seen.map(\.0) == [HTTP2StreamID.maxID, 0])
    #expect(seen.allSatisfy { $0.1 == .noError })
    #expect(!pair.server.isActive)
    #expect(pair.notices.notices.map(\.kind) == [.idleTimeout])
    #expect(pair.notices.notices.first?.reason.contains("10s") == true)
  }

  @Test func peerThatDoesNotAnswerThePingGetsTheFinalGoAwayAfterOneSecond() throws {
    let pair = try InMemoryHTTP2(settings: self.settings, connectClient: false)
    try pair.sendRaw(RawFrame.clientPreface)
    _ = try pair.takeServerFrames()
    pair.server.embeddedEventLoop.advanceTime(by: .seconds(10))
    let notice = try pair.takeServerFrames()
    #expect(notice.compactMap(\.goAway).map(\.lastStreamID) == [0x7FFF_FFFF])
    #expect(notice.contains { $0.type == RawFrame.ping && $0.flags == 0 })
    #expect(pair.server.isActive)

    pair.server.embeddedEventLoop.advanceTime(by: .milliseconds(999))
    #expect(try pair.takeServerFrames().isEmpty)
    pair.server.embeddedEventLoop.advanceTime(by: .milliseconds(1))
    let final = try pair.takeServerFrames().compactMap(\.goAway)
    #expect(final.map(\.lastStreamID) == [0])
    #expect(final.map(\.errorCode) == [0])
    #expect(!pair.server.isActive)
  }

  @Test func anOpenStreamIsNotIdleAndIdlenessCountsFromTheLastFrame() throws {
    let pair = try InMemoryHTTP2(settings: self.settings)
    try pair.sendHeaders(stream: 1, path: "/test.Echo/Echo")  // the body is still to come
    pair.server.embeddedEventLoop.advanceTime(by: .seconds(35))
    try pair.interact()
    #expect(goAways(pair).isEmpty)
    #expect(pair.server.isActive)

    try pair.sendData(stream: 1, grpcFrame([]), endStream: true)
    let response = pair.response(stream: 1)
    #expect(response.grpcStatus == 0)
    pair.server.embeddedEventLoop.advanceTime(by: .seconds(9))
    try pair.interact()
    #expect(goAways(pair).isEmpty)
    pair.server.embeddedEventLoop.advanceTime(by: .seconds(2))
    try pair.interact()
    #expect(goAways(pair).map(\.0) == [HTTP2StreamID.maxID, 1])
    #expect(!pair.server.isActive)
  }

  @Test func aLongLivedStreamingCallIsNotIdle() throws {
    let box = WriterBox()
    let streaming: [String: GRPCMethod] = [
      "/test.Echo/Watch": .serverStreaming { message, writer in box.writer = writer }
    ]
    let pair = try InMemoryHTTP2(
      settings: self.settings,
      responder: GRPCRouter(methods: streaming, maxMessageBytes: 1024)
    )
    _ = try pair.call(stream: 1, path: "/test.Echo/Watch", body: grpcFrame([1]))
    pair.server.embeddedEventLoop.advanceTime(by: .hours(2))
    try pair.interact()
    #expect(goAways(pair).isEmpty)
    #expect(pair.server.isActive)
    // Once the call ends, idleness counts from then.
    try #require(box.writer).finish(.ok)
    try pair.interact()
    pair.server.embeddedEventLoop.advanceTime(by: .seconds(9))
    try pair.interact()
    #expect(goAways(pair).isEmpty)
    pair.server.embeddedEventLoop.advanceTime(by: .seconds(11))
    try pair.interact()
    #expect(goAways(pair).count == 2)
    #expect(!pair.server.isActive)
  }
}

@Suite struct TwoPhaseGoAwayTests {
  @Test func shutdownSendsNoticeThenTheRealLastStream() throws {
    let pair = try InMemoryHTTP2()
    _ = try pair.call(stream: 1, path: "/test.Echo/Echo", body: grpcFrame([1]))
    pair.server.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
    try pair.interact()
    #expect(goAways(pair).map(\.0) == [HTTP2StreamID.maxID, 1])
    #expect(!pair.server.isActive)
  }

  @Test func aStreamThePeerOpenedBeforeItSawTheNoticeIsServed() throws {
    let pair = try InMemoryHTTP2()
    // The shutdown starts while the client's new request is already on its way: it must not
    // be refused.
    pair.server.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
    try pair.sendHeaders(stream: 1, path: "/test.Echo/Echo")
    #expect(goAways(pair).map(\.0) == [HTTP2StreamID.maxID, 1])
    #expect(pair.server.isActive)
    try pair.sendData(stream: 1, grpcFrame([5]), endStream: true)
    let response = pair.response(stream: 1)
    #expect(response.grpcStatus == 0)
    #expect(response.body == grpcFrame([5]))
    #expect(!pair.server.isActive)
  }
}
