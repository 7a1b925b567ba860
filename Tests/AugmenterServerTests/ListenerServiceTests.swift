//===----------------------------------------------------------------------===//
// A listener's lifecycle under graceful shutdown (ServiceLifecycleTestKit), on a real socket.
//===----------------------------------------------------------------------===//

import HTTP1
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle
import ServiceLifecycleTestKit
import Synchronization
import TestSupport
import Testing

@testable import AugmenterServer

/// Collects every byte a client connection receives.
private final class Received: ChannelInboundHandler, Sendable {
  typealias InboundIn = ByteBuffer
  private let bytes = Mutex<[UInt8]>([])

  var text: String { String(decoding: self.bytes.withLock { $0 }, as: UTF8.self) }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    let buffer = Self.unwrapInboundIn(data)
    self.bytes.withLock { $0 += buffer.readableBytesView }
  }
}

@Suite struct ListenerServiceTests {
  /// Polls `condition` every 10 ms for up to 5 s.
  private func waitFor(_ what: String, _ condition: () -> Bool) async throws {
    for _ in 0..<500 where !condition() {
      try await Task.sleep(for: .milliseconds(10))
    }
    #expect(condition(), "timed out waiting for \(what)")
  }

  private func connect(_ group: any EventLoopGroup, port: Int, received: Received) async throws -> any Channel {
    try await ClientBootstrap(group: group)
      .channelInitializer { channel in
        channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(received) }
      }
      .connect(host: "127.0.0.1", port: port)
      .get()
  }

  @Test func gracefulShutdownServesThroughTheDelayThenDrainsTheRequestInProgressAndStops() async throws {
    let group = MultiThreadedEventLoopGroup.singleton
    let drainStarted = Atomic<Bool>(false)
    let listener = ListenerService(
      ListenerService.Configuration(
        // Long enough that the late client below connects and writes within it on a loaded machine.
        name: "test", host: "127.0.0.1", port: 0, maxConnections: 10, drainDelay: .seconds(2),
        gracePeriod: .seconds(10)),
      group: group, logger: Logger(label: "test"),
      willDrain: { _ in drainStarted.store(true, ordering: .relaxed) }
    ) { channel in
      let pipeline = channel.pipeline.syncOperations
      try HTTP1ServerPipeline.addHandlers(
        settings: HTTP1ConnectionSettings(headTimeout: .seconds(10), bodyTimeout: .seconds(30), maxPipelinedRequests: 4),
        logger: Logger(label: "test")
      ) { try pipeline.addHandler($0) }
      try pipeline.addHandler(HTTP1URIEchoHandler())
    }
    #expect(listener.currentState == .idle)

    try await testGracefulShutdown { trigger in
      let run = Task { try await listener.run() }
      let port = try #require(await listener.waitUntilServing()?.port)
      #expect(listener.currentState == .serving)

      // A client whose request is half sent when the shutdown begins.
      let slow = Received()
      let slowClient = try await self.connect(group, port: port, received: slow)
      try await slowClient.writeAndFlush(ByteBuffer(string: "POST / HTTP/1.1\r\nhost: a\r\ncontent-length: 2\r\n\r\n"))
      try await self.waitFor("the connection to be tracked") { listener.openConnections == 1 }

      trigger.triggerGracefulShutdown()
      try await self.waitFor("draining") { listener.currentState == .draining }
      let willDrainRan = drainStarted.load(ordering: .relaxed)
      #expect(willDrainRan)

      // During drain_delay the port still accepts and answers.
      let late = Received()
      let lateClient = try await self.connect(group, port: port, received: late)
      try await lateClient.writeAndFlush(ByteBuffer(string: "GET / HTTP/1.1\r\nhost: a\r\n\r\n"))
      try await self.waitFor("an answer during drain_delay") { late.text.hasPrefix("HTTP/1.1 200 OK") }

      // Past the delay: the late (idle) connection is closed, the half-sent request holds the
      // listener in draining until it completes.
      try await lateClient.closeFuture.get()
      try await Task.sleep(for: .milliseconds(100))
      #expect(listener.currentState == .draining, "stopped with a request in progress")
      #expect(slowClient.isActive)

      try await slowClient.writeAndFlush(ByteBuffer(string: "ok"))
      try await run.value
      #expect(listener.currentState == .stopped)
      // Everything the server sent has been read once the client sees the close.
      try await slowClient.closeFuture.get()
      #expect(slow.text.hasPrefix("HTTP/1.1 200 OK"), "\(slow.text)")
      #expect(slow.text.lowercased().contains("connection: close"), "\(slow.text)")
      #expect(listener.openConnections == 0)
      // And the port no longer accepts.
      await #expect(throws: (any Error).self) {
        try await self.connect(group, port: port, received: Received()).close()
      }
    }
  }

  @Test func aPortThatCannotBeBoundFailsTheRunAndReportsNoAddress() async throws {
    let group = MultiThreadedEventLoopGroup.singleton
    let taken = try await ServerBootstrap(group: group).bind(host: "127.0.0.1", port: 0).get()
    defer { taken.close(promise: nil) }
    let listener = ListenerService(
      ListenerService.Configuration(
        name: "test", host: "127.0.0.1", port: try #require(taken.localAddress?.port), maxConnections: 10,
        drainDelay: .zero, gracePeriod: .seconds(1)),
      group: group, logger: Logger(label: "test")
    ) { _ in }
    await #expect(throws: (any Error).self) { try await listener.run() }
    #expect(await listener.waitUntilServing() == nil)
    #expect(listener.currentState == .stopped)
  }
}
