//===----------------------------------------------------------------------===//
// HTTP/1.1 connections as ConnectionPipelines builds them, on an EmbeddedChannel: backpressure,
// the pipelining bound, how much one read may make us parse, and the head/body deadlines.
//===----------------------------------------------------------------------===//

import Admin
import AugmenterCore
import ExtAuthz
import Foundation
import GRPC
import HTTP1
import HTTP2
import Logging
import NIOCore
import NIOEmbedded
import NIOHTTP1
import TestSupport
import Testing

@testable import AugmenterServer

/// Stands in for the socket at the head of the pipeline: counts `read()`s that reach it and, while
/// `stalled`, keeps writes (and their promises) as a peer that reads nothing would.
private final class FakeSocket: ChannelOutboundHandler {
  typealias OutboundIn = ByteBuffer

  var reads = 0
  var stalled = false
  private var held: [(NIOAny, EventLoopPromise<Void>?)] = []
  private var context: ChannelHandlerContext?

  var heldWrites: Int { self.held.count }

  func handlerAdded(context: ChannelHandlerContext) { self.context = context }

  func read(context: ChannelHandlerContext) {
    self.reads += 1
    context.read()
  }

  func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
    if self.stalled {
      self.held.append((data, promise))
    } else {
      context.write(data, promise: promise)
    }
  }

  func flush(context: ChannelHandlerContext) {
    if !self.stalled { context.flush() }
  }

  /// The peer reads: everything held goes out and its promises complete.
  func release() {
    self.stalled = false
    let held = self.held
    self.held = []
    for (data, promise) in held { self.context!.write(data, promise: promise) }
    self.context!.flush()
  }
}

@Suite struct HTTP1ConnectionLimitsTests {
  /// The admin port's pipeline (HTTP/1.1 answered synchronously, like the check port) behind a
  /// fake socket, connected.
  private func makeChannel(
    headTimeout: TimeAmount = .seconds(10), bodyTimeout: TimeAmount = .seconds(30), maxPipelined: Int = 16
  ) throws -> (EmbeddedChannel, FakeSocket) {
    let config = try makeConfig()
    let registry = ProviderRegistry(config: config)
    let clock = ManualClock()
    let adminState = AdminState(registry: registry, clock: clock, isDraining: { false })
    let pipelines = ConnectionPipelines(
      http2Settings: HTTP2Settings(maxConcurrentStreams: 10, maxRequestBodyBytes: 1024),
      checkResponder: AdminHTTP2Responder(state: adminState),
      httpModeCheck: HTTPModeCheckService(decider: Decider(config: config, registry: registry), clock: clock),
      adminState: adminState,
      maxHTTP1BodyBytes: 64 * 1024,
      idleTimeout: .hours(1),
      http1: HTTP1ConnectionSettings(headTimeout: headTimeout, bodyTimeout: bodyTimeout, maxPipelinedRequests: maxPipelined),
      checkTLS: nil,
      adminTLS: nil,
      logger: Logger(label: "test")
    )
    let channel = EmbeddedChannel()
    let socket = FakeSocket()
    try channel.pipeline.syncOperations.addHandler(socket)
    try pipelines.configureAdmin(channel)
    try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
    return (channel, socket)
  }

  private static let get = "GET /healthz HTTP/1.1\r\nhost: a\r\n\r\n"

  /// What a socket read does: the bytes arrive, then auto-read asks for more (as NIO's channel
  /// does after every socket read).
  private func feed(_ channel: EmbeddedChannel, _ text: String) throws {
    try channel.writeInbound(ByteBuffer(string: text))
    channel.read()
    channel.embeddedEventLoop.run()
  }

  /// Every byte written out so far, as text.
  private func drainOutbound(_ channel: EmbeddedChannel) throws -> String {
    var text = ""
    while var buffer = try channel.readOutbound(as: ByteBuffer.self) {
      text += buffer.readString(length: buffer.readableBytes) ?? ""
    }
    return text
  }

  private func count(_ needle: String, in text: String) -> Int {
    text.components(separatedBy: needle).count - 1
  }

  @Test func aConnectionThatCannotWriteStopsReadingAndResumesWhenWritable() throws {
    let (channel, socket) = try self.makeChannel()
    try self.feed(channel, Self.get)
    #expect(try self.drainOutbound(channel).hasPrefix("HTTP/1.1 200"))

    channel.isWritable = false
    channel.pipeline.fireChannelWritabilityChanged()
    let before = socket.reads
    channel.read()
    #expect(socket.reads == before, "a read reached the socket while the channel was not writable")

    channel.isWritable = true
    channel.pipeline.fireChannelWritabilityChanged()
    #expect(socket.reads == before + 1, "the held read was not released once writable")
    _ = try channel.finish(acceptAlreadyClosed: true)
  }

  @Test func pipelinedRequestsPastTheBoundStopReadingUntilAnswersLeave() throws {
    let (channel, socket) = try self.makeChannel(maxPipelined: 4)
    socket.stalled = true
    // 10 requests in one read: all parsed (one slice), answered into the stalled socket.
    try self.feed(channel, String(repeating: Self.get, count: 10))
    channel.embeddedEventLoop.run()
    #expect(socket.heldWrites > 0)
    let before = socket.reads
    channel.read()
    #expect(socket.reads == before, "read on with 10 answers still queued in the process (bound 4)")

    socket.release()
    channel.embeddedEventLoop.run()
    #expect(socket.reads == before + 1, "reading did not resume once the answers left")
    #expect(self.count("HTTP/1.1 200", in: try self.drainOutbound(channel)) == 10)
    _ = try channel.finish(acceptAlreadyClosed: true)
  }

  @Test func oneLargeReadIsParsedOnlyAsFarAsAnswersCanLeave() throws {
    let (channel, socket) = try self.makeChannel()
    socket.stalled = true
    let total = 64 * 1024 / Self.get.utf8.count
    try self.feed(channel, String(repeating: Self.get, count: total))
    channel.embeddedEventLoop.run()
    // Without a bound all ~1900 are parsed and answered into memory at once.
    #expect(socket.heldWrites > 0)
    #expect(
      socket.heldWrites <= 3 * (HTTP1InputGate.defaultSliceBytes / Self.get.utf8.count + 1),
      "\(socket.heldWrites) response writes queued from one read of \(total) requests")

    // The peer reads: the rest is parsed slice by slice and every request is answered, in order.
    var rounds = 0
    var answered = 0
    while answered < total, rounds < 10_000 {
      socket.release()
      socket.stalled = true
      channel.embeddedEventLoop.run()
      answered += self.count("HTTP/1.1 200", in: try self.drainOutbound(channel))
      rounds += 1
    }
    socket.release()
    answered += self.count("HTTP/1.1 200", in: try self.drainOutbound(channel))
    #expect(answered == total)
    _ = try channel.finish(acceptAlreadyClosed: true)
  }

  @Test func aDribblingHeadGets408WhenTheHeadDeadlinePasses() throws {
    let (channel, _) = try self.makeChannel(headTimeout: .seconds(1))
    for byte in "GET /hea".utf8 {
      try self.feed(channel, String(decoding: [byte], as: UTF8.self))
      channel.embeddedEventLoop.advanceTime(by: .milliseconds(100))
    }
    #expect(channel.isActive)
    channel.embeddedEventLoop.advanceTime(by: .milliseconds(250))
    let out = try self.drainOutbound(channel)
    #expect(out.hasPrefix("HTTP/1.1 408"), "\(out)")
    #expect(out.lowercased().contains("connection: close"))
    #expect(!channel.isActive, "the connection stayed open past request_head_timeout")
  }

  @Test func aStalledBodyGets408WhenTheBodyDeadlinePasses() throws {
    let (channel, _) = try self.makeChannel(bodyTimeout: .seconds(2))
    try self.feed(channel, "POST /healthz HTTP/1.1\r\nhost: a\r\ncontent-length: 10\r\n\r\nabc")
    channel.embeddedEventLoop.advanceTime(by: .milliseconds(1900))
    #expect(channel.isActive)
    #expect(try self.drainOutbound(channel).isEmpty)
    channel.embeddedEventLoop.advanceTime(by: .milliseconds(200))
    let out = try self.drainOutbound(channel)
    #expect(out.hasPrefix("HTTP/1.1 408"), "\(out)")
    #expect(!channel.isActive, "the connection stayed open past request_body_timeout")
  }

  @Test func requestsCompletedInTimeAndIdleKeepAliveAreLeftAlone() throws {
    let (channel, _) = try self.makeChannel(headTimeout: .seconds(1), bodyTimeout: .seconds(1))
    // Whole request in one read, then a long quiet keep-alive period.
    try self.feed(channel, Self.get)
    channel.embeddedEventLoop.advanceTime(by: .seconds(30))
    // A head in two parts, and a body in two parts, each within its deadline.
    try self.feed(channel, "GET /hea")
    channel.embeddedEventLoop.advanceTime(by: .milliseconds(900))
    try self.feed(channel, "lthz HTTP/1.1\r\nhost: a\r\n\r\n")
    try self.feed(channel, "POST /healthz HTTP/1.1\r\nhost: a\r\ncontent-length: 4\r\n\r\nab")
    channel.embeddedEventLoop.advanceTime(by: .milliseconds(900))
    try self.feed(channel, "cd")
    channel.embeddedEventLoop.advanceTime(by: .seconds(30))
    let out = try self.drainOutbound(channel)
    #expect(self.count("HTTP/1.1 ", in: out) == 3, "\(out)")
    #expect(!out.contains("408"))
    #expect(channel.isActive)
    _ = try channel.finish(acceptAlreadyClosed: true)
  }
}
