//===----------------------------------------------------------------------===//
// Augmenter — logs errors on a connection (bad preface, protocol errors) with its peer.
//===----------------------------------------------------------------------===//

import Logging
import NIOCore

/// Last handler of a connection pipeline: logs what the handlers before it reported.
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
}

@available(*, unavailable)
extension ConnectionErrorLogger: Sendable {}
