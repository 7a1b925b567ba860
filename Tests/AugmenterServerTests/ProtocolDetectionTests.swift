//===----------------------------------------------------------------------===//
// Protocol detection and the idle closer on an EmbeddedChannel.
//===----------------------------------------------------------------------===//

import Logging
import NIOCore
import NIOEmbedded
import Testing

@testable import AugmenterServer

/// Collects what reaches the end of the pipeline after detection.
private final class Collector: ChannelInboundHandler {
  typealias InboundIn = ByteBuffer
  var bytes: [UInt8] = []
  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    self.bytes += Self.unwrapInboundIn(data).readableBytesView
  }
}

@Suite struct ProtocolDetectionTests {
  private static let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)

  /// Feeds `chunks` and returns what was detected and the bytes the protocol's handler got.
  private func detect(_ chunks: [[UInt8]]) throws -> (DetectedProtocol?, [UInt8]) {
    let channel = EmbeddedChannel()
    var detected: DetectedProtocol?
    let collector = Collector()
    try channel.pipeline.syncOperations.addHandler(
      ProtocolDetectionHandler { protocolFound, pipeline in
        detected = protocolFound
        try pipeline.addHandler(collector)
      })
    for chunk in chunks {
      try channel.writeInbound(ByteBuffer(bytes: chunk))
    }
    return (detected, collector.bytes)
  }

  @Test func thePrefaceIsHTTP2EvenSplitByteByByte() throws {
    let bytes = Self.preface + [0, 0, 0, 4]
    let (detected, passed) = try self.detect(bytes.map { [$0] })
    #expect(detected == .http2)
    #expect(passed == bytes, "bytes lost or reordered while detecting")
  }

  @Test func anythingElseIsHTTP1AsSoonAsItDiffers() throws {
    let (early, _) = try self.detect([Array("PR".utf8)])
    #expect(early == nil, "decided before the bytes differ from the preface")
    let (detected, passed) = try self.detect([Array("PR".utf8), Array("Z".utf8)])
    #expect(detected == .http1)
    #expect(passed == Array("PRZ".utf8))
    let (get, _) = try self.detect([Array("GET / HTTP/1.1\r\n".utf8)])
    #expect(get == .http1)
  }

  @Test func theIdleCloserClosesOnAReadTimeoutOnly() throws {
    let channel = EmbeddedChannel(handler: IdleConnectionCloser(idleTimeout: .seconds(5), logger: Logger(label: "test")))
    try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
    channel.pipeline.fireUserInboundEventTriggered(IdleStateHandler.IdleStateEvent.write)
    #expect(channel.isActive, "closed on a write timeout")
    channel.pipeline.fireUserInboundEventTriggered(IdleStateHandler.IdleStateEvent.read)
    channel.embeddedEventLoop.run()
    #expect(!channel.isActive)
  }
}
