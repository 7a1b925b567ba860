//===----------------------------------------------------------------------===//
// Augmenter — logs errors on a connection (bad preface, protocol errors) with its peer.
//===----------------------------------------------------------------------===//

import HTTP2
import Logging
import NIOCore

/// Last handler of a connection pipeline: logs what the handlers before it reported (errors,
/// and the HTTP/2 handler's reasons for closing a connection itself).
final class ConnectionErrorLogger: ChannelInboundHandler {
  typealias InboundIn = Never

  private let logger: Logger

  init(logger: Logger) {
    self.logger = logger
  }

  func errorCaught(context: ChannelHandlerContext, error: any Error) {
    self.logger.notice(
      "connection error",
      metadata: [
        "peer": "\(context.channel.remoteAddress.map { "\($0)" } ?? "?")",
        "error": "\(error)",
      ]
    )
  }

  func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
    guard let notice = event as? HTTP2ConnectionNotice else {
      context.fireUserInboundEventTriggered(event)
      return
    }
    // One line per connection closed; the reason names limits only, never request contents.
    let metadata: Logger.Metadata = [
      "peer": "\(context.channel.remoteAddress.map { "\($0)" } ?? "?")",
      "reason": "\(notice.reason)",
    ]
    if notice.kind == .flooded {
      self.logger.warning("HTTP/2 connection flooded: closing", metadata: metadata)
    } else {
      self.logger.info("HTTP/2 connection idle: closing", metadata: metadata)
    }
  }
}

@available(*, unavailable)
extension ConnectionErrorLogger: Sendable {}
