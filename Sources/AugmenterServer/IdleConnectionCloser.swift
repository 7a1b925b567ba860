//===----------------------------------------------------------------------===//
// Augmenter — closes a connection silent for idle_timeout, and says so.
//===----------------------------------------------------------------------===//

import Logging
import NIOCore

/// Closes a connection that stayed silent for the idle timeout (e.g. a client that sent half a
/// request and stopped, or one that never said which protocol it speaks), so it holds no memory
/// or file descriptor for long. HTTP/2 connections remove it: `http2.idle_timeout` governs them.
final class IdleConnectionCloser: ChannelInboundHandler, RemovableChannelHandler {
  typealias InboundIn = NIOAny

  private let idleTimeout: TimeAmount
  private let logger: Logger

  init(idleTimeout: TimeAmount, logger: Logger) {
    self.idleTimeout = idleTimeout
    self.logger = logger
  }

  func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
    if let idle = event as? IdleStateHandler.IdleStateEvent, idle == .read {
      // One line per connection closed: the peer and the limit, nothing it sent.
      self.logger.info(
        "connection silent for idle_timeout: closing",
        metadata: [
          "peer": "\(context.channel.remoteAddress.map { "\($0)" } ?? "?")",
          "idle_timeout_ms": "\(self.idleTimeout.nanoseconds / 1_000_000)",
        ]
      )
      context.close(promise: nil)
      return
    }
    context.fireUserInboundEventTriggered(event)
  }
}

@available(*, unavailable)
extension IdleConnectionCloser: Sendable {}
