//===----------------------------------------------------------------------===//
// Augmenter — at most N HTTP/1.1 requests received and not yet answered per connection.
//===----------------------------------------------------------------------===//

package import NIOCore
package import NIOHTTP1

/// Stops reading while a connection has `maxUnanswered` requests whose answer has not left the
/// process, and reads again as answers leave.
///
/// "Answered" means the response's last part was handed to the socket (its write promise
/// completed), not merely written into the pipeline: a client that pipelines requests and never
/// reads would otherwise have every answer queued in memory. Placed after NIOHTTP1's encoder and
/// before its `HTTPServerPipelineHandler`, so it sees request parts as they are parsed and
/// response parts as they go out. Requests parsed from bytes already read still arrive after the
/// bound is reached; ``HTTP1InputGate`` keeps those to one slice.
package final class HTTP1PipeliningLimitHandler: ChannelDuplexHandler, RemovableChannelHandler {
  package typealias InboundIn = HTTPServerRequestPart
  package typealias InboundOut = HTTPServerRequestPart
  package typealias OutboundIn = HTTPServerResponsePart
  package typealias OutboundOut = HTTPServerResponsePart

  private let maxUnanswered: Int
  /// Request heads received minus responses whose end has been written to the socket.
  private(set) var unanswered = 0
  private var readPending = false

  package init(maxUnanswered: Int) {
    precondition(maxUnanswered > 0)
    self.maxUnanswered = maxUnanswered
  }

  package func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    if case .head = Self.unwrapInboundIn(data) {
      self.unanswered += 1
    }
    context.fireChannelRead(data)
  }

  package func read(context: ChannelHandlerContext) {
    if self.unanswered >= self.maxUnanswered {
      self.readPending = true
    } else {
      context.read()
    }
  }

  package func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
    guard case .end = Self.unwrapOutboundIn(data) else {
      context.write(data, promise: promise)
      return
    }
    let written = promise ?? context.eventLoop.makePromise()
    let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
    // Success or failure alike: a failed write means the connection is going away.
    written.futureResult.whenComplete { _ in
      let (handler, context) = loopBound.value
      handler.answerLeft(context: context)
    }
    context.write(data, promise: written)
  }

  private func answerLeft(context: ChannelHandlerContext) {
    // An error response (400, 408) may answer bytes that never became a request head.
    self.unanswered = max(0, self.unanswered - 1)
    // Writes also complete (failed) while the channel closes: no read to release then.
    if self.readPending, self.unanswered < self.maxUnanswered, context.channel.isActive {
      self.readPending = false
      context.read()
    }
  }
}

@available(*, unavailable)
extension HTTP1PipeliningLimitHandler: Sendable {}
