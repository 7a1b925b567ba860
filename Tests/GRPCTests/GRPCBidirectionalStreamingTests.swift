//===----------------------------------------------------------------------===//
// Bidirectional-streaming gRPC over our nghttp2 server, frame by frame, with swift-nio-http2's
// client in memory: messages answered as they arrive, split anywhere, half-close, resets,
// bounds on what a call holds, hundreds of calls on one connection.
//===----------------------------------------------------------------------===//

import GRPC
import HTTP2
import NIOCore
import NIOEmbedded
import NIOHPACK
import NIOHTTP2
import TestSupport
import Testing

/// What the calls of a test saw. Everything runs on the embedded loop's thread.
final class CallLog: @unchecked Sendable {
  var started = 0
  var messages: [[UInt8]] = []
  var ends = 0
  var cancellations = 0
}

/// Answers every message at once with `reply(message)`; on the client's end sends `farewell`
/// (if any) and finishes with OK.
final class EchoCall: GRPCStreamHandler {
  let stream: GRPCServerStream
  let log: CallLog
  let reply: ([UInt8]) -> [UInt8]
  let farewell: [UInt8]?

  init(stream: GRPCServerStream, log: CallLog, reply: @escaping ([UInt8]) -> [UInt8], farewell: [UInt8]?) {
    self.stream = stream
    self.log = log
    self.reply = reply
    self.farewell = farewell
  }

  func received(_ message: ByteBuffer) {
    let bytes = Array(message.readableBytesView)
    self.log.messages.append(bytes)
    self.stream.send(self.reply(bytes))
  }

  func receivedEnd() {
    self.log.ends += 1
    if let farewell { self.stream.send(farewell) }
    self.stream.finish(GRPCStatus(.ok, ""))
  }

  func cancelled() {
    self.log.cancellations += 1
  }
}

@Suite struct GRPCBidirectionalStreamingTests {
  static let path = "/test.Stream/Chat"

  /// A server whose `/test.Stream/Chat` echoes (or answers with `reply`) each message.
  static func pair(
    log: CallLog, settings: HTTP2.HTTP2Settings = HTTP2.HTTP2Settings(), maxMessageBytes: Int = 1024,
    reply: @escaping @Sendable ([UInt8]) -> [UInt8] = { $0 }, farewell: [UInt8]? = nil,
    clientSettings: NIOHTTP2.HTTP2Settings? = nil
  ) throws -> InMemoryHTTP2 {
    let methods: [String: GRPCMethod] = [
      Self.path: .bidirectionalStreaming { stream, _ in
        log.started += 1
        return EchoCall(stream: stream, log: log, reply: reply, farewell: farewell)
      }
    ]
    return try InMemoryHTTP2(
      settings: settings, responder: GRPCRouter(methods: methods, maxMessageBytes: maxMessageBytes),
      clientSettings: clientSettings)
  }

  /// The DATA frames the client got on `stream`, in order.
  static func dataFrames(_ pair: InMemoryHTTP2, stream: Int) -> [[UInt8]] {
    pair.clientFrames.compactMap { frame in
      guard frame.streamID == HTTP2StreamID(stream), case .data(let data) = frame.payload,
        case .byteBuffer(let buffer) = data.data
      else { return nil }
      return Array(buffer.readableBytesView)
    }
  }

  @Test func eachMessageIsAnsweredAsItArrivesAndTheStreamStaysOpenUntilTheClientEnds() throws {
    let log = CallLog()
    let pair = try Self.pair(log: log, farewell: Array("bye".utf8))
    try pair.sendHeaders(stream: 1, path: Self.path)
    #expect(log.started == 1)
    #expect(pair.response(stream: 1).status == "200", "response HEADERS go out when the call starts")

    try pair.sendData(stream: 1, grpcFrame(Array("one".utf8)), endStream: false)
    #expect(pair.response(stream: 1).body == grpcFrame(Array("one".utf8)))
    #expect(!pair.response(stream: 1).ended)

    // Two messages in one DATA frame: two answers.
    try pair.sendData(stream: 1, grpcFrame(Array("two".utf8)) + grpcFrame(Array("three".utf8)), endStream: false)
    #expect(pair.response(stream: 1).body == grpcFrame(Array("one".utf8)) + grpcFrame(Array("two".utf8)) + grpcFrame(Array("three".utf8)))
    #expect(!pair.response(stream: 1).ended)

    // Half-close: the server still sends, then finishes.
    try pair.sendData(stream: 1, [], endStream: true)
    let response = pair.response(stream: 1)
    #expect(log.ends == 1)
    #expect(response.body.suffix(8) == grpcFrame(Array("bye".utf8))[...])
    #expect(response.grpcStatus == 0)
    #expect(response.ended)
    #expect(response.reset == nil)
    #expect(log.cancellations == 0)
  }

  @Test(arguments: [1, 2, 3, 4, 5, 7, 11, 64])
  func messagesSplitAnywhereAcrossDataFrames(chunk: Int) throws {
    let log = CallLog()
    let pair = try Self.pair(log: log)
    let messages = [Array("alpha".utf8), [], Array(repeating: 0xAB, count: 40), Array("omega".utf8)]
    let body = messages.flatMap { grpcFrame($0) }
    try pair.sendHeaders(stream: 1, path: Self.path)
    var offset = 0
    while offset < body.count {
      let end = min(body.count, offset + chunk)
      try pair.sendData(stream: 1, Array(body[offset..<end]), endStream: end == body.count)
      offset = end
    }
    #expect(log.messages == messages)
    let response = pair.response(stream: 1)
    #expect(response.body == body)
    #expect(response.grpcStatus == 0)
  }

  @Test func aResetMidMessageCancelsTheCallAndTheConnectionGoesOn() throws {
    let log = CallLog()
    let pair = try Self.pair(log: log)
    try pair.sendHeaders(stream: 1, path: Self.path)
    try pair.sendData(stream: 1, Array(grpcFrame(Array("unfinished".utf8)).prefix(7)), endStream: false)
    try pair.client.writeOutbound(HTTP2Frame(streamID: 1, payload: .rstStream(.cancel)))
    try pair.interact()
    #expect(log.cancellations == 1)
    #expect(log.messages.isEmpty)
    #expect(pair.response(stream: 1).trailers == nil)

    try pair.sendHeaders(stream: 3, path: Self.path)
    try pair.sendData(stream: 3, grpcFrame([1, 2, 3]), endStream: true)
    #expect(pair.response(stream: 3).body == grpcFrame([1, 2, 3]))
    #expect(pair.response(stream: 3).grpcStatus == 0)
  }

  @Test func endingInsideAMessageIsInvalidArgument() throws {
    let log = CallLog()
    let pair = try Self.pair(log: log)
    try pair.sendHeaders(stream: 1, path: Self.path)
    try pair.sendData(stream: 1, grpcFrame([9]) + [0, 0, 0], endStream: true)
    let response = pair.response(stream: 1)
    #expect(log.messages == [[9]])
    #expect(log.ends == 0)
    #expect(response.grpcStatus == 3, "\(response)")
    #expect(response.grpcMessage?.contains("inside a message") == true)
  }

  @Test func aMessageDeclaredOverTheLimitIsRefusedFromItsPrefix() throws {
    let log = CallLog()
    let pair = try Self.pair(log: log, maxMessageBytes: 100)
    try pair.sendHeaders(stream: 1, path: Self.path)
    try pair.sendData(stream: 1, [0, 0, 0, 0, 101], endStream: false)
    let response = pair.response(stream: 1)
    #expect(response.grpcStatus == 8, "\(response)")
    #expect(response.ended)
    // Finished before the client ended: its stream is reset with NO_ERROR (RFC 9113 §8.1).
    #expect(response.reset == HTTP2ErrorCode.noError)
  }

  @Test func hundredsOfCallsOnOneConnection() throws {
    let log = CallLog()
    let pair = try Self.pair(log: log, reply: { $0.reversed() })
    let ids = (0..<300).map { 1 + 2 * $0 }
    for id in ids {
      try pair.sendHeaders(stream: id, path: Self.path)
      try pair.sendData(stream: id, grpcFrame([UInt8(id & 0xFF), UInt8(id >> 8)]), endStream: false)
    }
    #expect(log.started == 300)
    for id in ids {
      try pair.sendData(stream: id, grpcFrame([7]), endStream: true)
    }
    for id in ids {
      let response = pair.response(stream: id)
      #expect(response.body == grpcFrame([UInt8(id >> 8), UInt8(id & 0xFF)]) + grpcFrame([7]), "stream \(id)")
      #expect(response.grpcStatus == 0, "stream \(id)")
    }
    #expect(log.ends == 300)
  }

  @Test func unfinishedMessagesCountTowardTheConnectionBound() throws {
    let log = CallLog()
    var settings = HTTP2.HTTP2Settings()
    settings.maxBufferedBytesPerConnection = 4096
    let pair = try Self.pair(log: log, settings: settings, maxMessageBytes: 2048)
    // Ten calls each park 1000 bytes of a 2000-byte message: the connection holds at most 4096.
    for index in 0..<10 {
      let id = 1 + 2 * index
      try pair.sendHeaders(stream: id, path: Self.path)
      // A stream refused at its HEADERS (header lists count too) is reset: the client cannot send on it.
      if pair.response(stream: id).reset != nil { continue }
      try pair.sendData(stream: id, Array(grpcFrame(Array(repeating: 1, count: 2000)).prefix(1000)), endStream: false)
    }
    let refused = (0..<10).map { 1 + 2 * $0 }.filter {
      pair.response(stream: $0).grpcStatus == 8 || pair.response(stream: $0).reset == HTTP2ErrorCode.refusedStream
        || pair.response(stream: $0).reset == HTTP2ErrorCode.internalError
    }
    // At most four calls' worth fits; every other one is refused.
    #expect(refused.count >= 6, "refused: \(refused)")
    #expect(refused.count < 10, "refused: \(refused)")
    #expect(log.messages.isEmpty)
  }

  @Test func aClientThatShutsItsWindowGetsTheCallResetInsteadOfQueueingAnswers() throws {
    let log = CallLog()
    var settings = HTTP2.HTTP2Settings()
    settings.maxBufferedBytesPerConnection = 16 << 10
    // Each 10-byte request gets a 2000-byte answer; the client grants no receive window.
    let pair = try Self.pair(
      log: log, settings: settings, reply: { _ in Array(repeating: 0x5A, count: 2000) },
      clientSettings: [HTTP2Setting(parameter: .initialWindowSize, value: 0)])
    try pair.sendHeaders(stream: 1, path: Self.path)
    for _ in 0..<20 where pair.response(stream: 1).reset == nil {
      try pair.sendData(stream: 1, grpcFrame(Array(repeating: 1, count: 10)), endStream: false)
    }
    let response = pair.response(stream: 1)
    #expect(response.reset == HTTP2ErrorCode.enhanceYourCalm, "\(response)")
    #expect(response.body.isEmpty)
    #expect(log.cancellations == 1)
    // 16 KiB hold 8 answers: the call was reset at the 9th, not after all 20.
    #expect(log.messages.count < 20)
  }

  @Test func aStreamingPathRefusesNonGRPCRequestsAndOtherMethods() throws {
    let log = CallLog()
    let pair = try Self.pair(log: log)
    try pair.sendHeaders(stream: 1, path: Self.path, contentType: "application/json")
    #expect(pair.response(stream: 1).status == "415")
    try pair.sendHeaders(stream: 3, path: Self.path, method: "PUT")
    #expect(pair.response(stream: 3).status == "405")
    #expect(log.started == 0)
  }

  @Test func unaryMethodsAreUnchangedBesideAStreamingOne() throws {
    let log = CallLog()
    let methods = echoMethods.merging([
      Self.path: .bidirectionalStreaming { stream, _ in EchoCall(stream: stream, log: log, reply: { $0 }, farewell: nil) }
    ]) { a, _ in a }
    let pair = try InMemoryHTTP2(responder: GRPCRouter(methods: methods, maxMessageBytes: 1024))
    let response = try pair.call(stream: 1, path: "/test.Echo/Echo", body: grpcFrame(Array("unary".utf8)))
    #expect(response.body == grpcFrame(Array("unary".utf8)))
    #expect(response.grpcStatus == 0)
  }
}

@Suite struct GRPCStreamStateMachineTests {
  @Test func messagesCompleteAcrossReceives() {
    var machine = GRPCStreamStateMachine(maxMessageBytes: 16)
    machine.receive(ByteBuffer(bytes: [0, 0, 0, 0, 2, 7]))
    guard case .needMoreBytes = machine.nextMessage() else {
      Issue.record("a partial message was delivered")
      return
    }
    machine.doneReceiving()
    #expect(machine.heldBytes == 6)
    machine.receive(ByteBuffer(bytes: [8]))
    guard case .message(let message) = machine.nextMessage() else {
      Issue.record("the completed message was not delivered")
      return
    }
    #expect(Array(message.readableBytesView) == [7, 8])
    #expect(machine.heldBytes == 0)
  }

  @Test func endWithPendingBytesFailsAndWithoutEndsTheRequest() {
    var pending = GRPCStreamStateMachine(maxMessageBytes: 16)
    pending.receive(ByteBuffer(bytes: [0, 0]))
    guard case .fail(let status) = pending.receiveEnd() else {
      Issue.record("an end inside a message was accepted")
      return
    }
    #expect(status.code == .invalidArgument)

    var clean = GRPCStreamStateMachine(maxMessageBytes: 16)
    let first = clean.receiveEnd()
    #expect(first == .deliverEnd)
    #expect(clean.state == .requestEnded)
    #expect(clean.maySend)
    let second = clean.receiveEnd()
    #expect(second == .ignore)
  }

  @Test func finishingOnceAndClosing() {
    var machine = GRPCStreamStateMachine(maxMessageBytes: 16)
    let finished = machine.finish()
    let finishedAgain = machine.finish()
    #expect(finished && !finishedAgain)
    #expect(!machine.maySend)
    machine.receive(ByteBuffer(bytes: grpcFrame([1])))
    guard case .needMoreBytes = machine.nextMessage() else {
      Issue.record("a message was delivered after the call finished")
      return
    }
    let closedAfterFinish = machine.closed()
    #expect(!closedAfterFinish, "closing after the server finished is not a cancellation")

    var open = GRPCStreamStateMachine(maxMessageBytes: 16)
    let closedOpen = open.closed()
    #expect(closedOpen, "closing before the server finished is a cancellation")
    let finishAfterClose = open.finish()
    #expect(!finishAfterClose)
  }

  @Test func anOversizedOrCompressedPrefixFails() {
    var oversized = GRPCStreamStateMachine(maxMessageBytes: 4)
    oversized.receive(ByteBuffer(bytes: [0, 0, 0, 0, 5]))
    guard case .fail(let status) = oversized.nextMessage() else {
      Issue.record("an oversized prefix was accepted")
      return
    }
    #expect(status.code == .resourceExhausted)

    var compressed = GRPCStreamStateMachine(maxMessageBytes: 4)
    compressed.receive(ByteBuffer(bytes: [1, 0, 0, 0, 1, 9]))
    guard case .fail(let other) = compressed.nextMessage() else {
      Issue.record("a compressed message was accepted")
      return
    }
    #expect(other.code == .unimplemented)
  }
}
