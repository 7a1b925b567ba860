//===----------------------------------------------------------------------===//
// End-to-end harness: the non-reading flooder over TLS (h2).
//===----------------------------------------------------------------------===//

import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS

/// ``NonReadingFlooder`` over TLS (h2): NIOSSL on a NIO channel with `autoRead` off. It reads
/// only until its handshake completes, then never again, and writes a batch only while its own
/// channel is writable (so its pending writes stay bounded in the test process). Reconnects when
/// the server closes. Loopback only.
enum NonReadingTLSFlooder {
  static func run(
    port: Int, tls: TLSConfiguration, frame: [UInt8], framesPerWrite: Int = 200, pause: Duration = .milliseconds(5),
    duration: Duration
  ) async throws -> NonReadingFlooder.Outcome {
    let context = try NIOSSLContext(configuration: tls)
    let batch = Array([[UInt8]](repeating: frame, count: framesPerWrite).joined())
    let clock = ContinuousClock()
    let deadline = clock.now + duration
    var outcome = NonReadingFlooder.Outcome()
    while clock.now < deadline {
      let handshake = MultiThreadedEventLoopGroup.singleton.next().makePromise(of: Void.self)
      let channel: any Channel
      do {
        channel = try await ClientBootstrap(group: handshake.futureResult.eventLoop)
          .channelOption(.autoRead, value: false)
          .channelOption(.socketOption(.so_rcvbuf), value: 4096)
          .connectTimeout(.seconds(5))
          .channelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
              try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: context, serverHostname: "localhost"))
              try channel.pipeline.syncOperations.addHandler(HandshakeReader(handshake: handshake))
            }
          }
          .connect(host: "127.0.0.1", port: port)
          .get()
      } catch {
        handshake.fail(error)
        try await Task.sleep(for: .milliseconds(10))
        continue
      }
      outcome.connections += 1
      do {
        try await handshake.futureResult.get()
      } catch {
        try? await channel.close()
        continue
      }
      try? await channel.writeAndFlush(ByteBuffer(bytes: NonReadingFlooder.preface)).get()
      try await Task.sleep(for: .milliseconds(200))
      while clock.now < deadline {
        guard channel.isActive else {
          outcome.closedByServer += 1
          break
        }
        if channel.isWritable {
          channel.writeAndFlush(ByteBuffer(bytes: batch), promise: nil)
          outcome.bytesSent += batch.count
          try await Task.sleep(for: pause)
        } else {
          try await Task.sleep(for: .milliseconds(1))
        }
      }
      try? await channel.close()
    }
    return outcome
  }
}

/// Asks for reads until the TLS handshake completed, then stops asking: a peer that stopped reading.
private final class HandshakeReader: ChannelInboundHandler {
  typealias InboundIn = ByteBuffer

  private let handshake: EventLoopPromise<Void>
  private var done = false
  private var completed = false

  init(handshake: EventLoopPromise<Void>) { self.handshake = handshake }

  func channelActive(context: ChannelHandlerContext) {
    context.read()
    context.fireChannelActive()
  }

  func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
    if case .handshakeCompleted = event as? TLSUserEvent {
      self.done = true
      self.complete(nil)
    }
    context.fireUserInboundEventTriggered(event)
  }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    // Decrypted server frames: dropped (only the handshake needed reading).
  }

  func channelReadComplete(context: ChannelHandlerContext) {
    if !self.done { context.read() }
  }

  func channelInactive(context: ChannelHandlerContext) {
    self.complete(ChannelError.ioOnClosedChannel)
    context.fireChannelInactive()
  }

  func errorCaught(context: ChannelHandlerContext, error: any Error) {
    self.complete(error)
    context.close(promise: nil)
  }

  private func complete(_ error: (any Error)?) {
    guard !self.completed else { return }
    self.completed = true
    if let error { self.handshake.fail(error) } else { self.handshake.succeed() }
  }
}
