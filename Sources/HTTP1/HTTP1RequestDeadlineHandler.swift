//===----------------------------------------------------------------------===//
// Augmenter — deadlines for receiving one HTTP/1.1 request: its head, then its body.
//===----------------------------------------------------------------------===//

package import Logging
package import NIOCore
package import NIOHTTP1

/// Closes an HTTP/1.1 connection whose client takes too long to send a request.
///
/// - head deadline: from the first byte of a request head to its end (`http1.request_head_timeout`);
/// - body deadline: from the end of the head to the end of the request (`http1.request_body_timeout`).
///
/// `idle_timeout` only catches clients that send nothing at all; one byte now and then (a
/// "slowloris" client) keeps a read-idle timer from ever firing. When a deadline passes and no
/// response is being written, the client gets `408 Request Timeout` with `connection: close`
/// (what RFC 9110 §15.5.9 describes, and what Envoy's own HTTP/1.1 codec reports as a plain
/// upstream response, visible in its access log), then the connection closes; with a response in
/// progress it just closes, since a second response would corrupt the first. One log line names
/// the deadline and the peer, never request content.
///
/// "First byte" is known from ``HTTP1InputArrived``: the head deadline starts at the first
/// delivery of input while no request is in progress. Bytes of a next request that arrive in the
/// same delivery as the end of the previous one start it at the next delivery.
/// Timers are armed at `channelReadComplete` only if the request is still incomplete then, so a
/// request that arrives whole in one read costs no timer.
package final class HTTP1RequestDeadlineHandler: ChannelDuplexHandler, RemovableChannelHandler {
  package typealias InboundIn = HTTPServerRequestPart
  package typealias InboundOut = HTTPServerRequestPart
  package typealias OutboundIn = HTTPServerResponsePart
  package typealias OutboundOut = HTTPServerResponsePart

  /// Which deadline fired (also the configuration key operators know it by).
  enum Deadline: String, Sendable {
    case head = "request_head_timeout"
    case body = "request_body_timeout"
  }

  private enum State {
    /// Between requests.
    case idle
    /// Receiving a request; `since` is when this phase began, `timer` once armed.
    case receiving(Deadline, since: NIODeadline, timer: Scheduled<Void>?)
    /// A deadline passed: the connection is closing.
    case expired
  }

  private let headTimeout: TimeAmount
  private let bodyTimeout: TimeAmount
  private let logger: Logger
  private var state = State.idle
  private var response = HTTP1ResponseProgress()

  package init(headTimeout: TimeAmount, bodyTimeout: TimeAmount, logger: Logger) {
    self.headTimeout = headTimeout
    self.bodyTimeout = bodyTimeout
    self.logger = logger
  }

  package func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
    guard event is HTTP1InputArrived else {
      context.fireUserInboundEventTriggered(event)
      return
    }
    if case .idle = self.state {
      self.state = .receiving(.head, since: context.eventLoop.now, timer: nil)
    }
  }

  package func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    if case .expired = self.state {
      return  // answered with 408 (or closing): nothing after it may be answered
    }
    switch Self.unwrapInboundIn(data) {
    case .head:
      self.cancelTimer()
      self.state = .receiving(.body, since: context.eventLoop.now, timer: nil)
    case .body:
      break
    case .end:
      self.cancelTimer()
      self.state = .idle
    }
    context.fireChannelRead(data)
  }

  package func channelReadComplete(context: ChannelHandlerContext) {
    if case .receiving(let deadline, let since, .none) = self.state {
      let timeout = deadline == .head ? self.headTimeout : self.bodyTimeout
      let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
      let timer = context.eventLoop.scheduleTask(deadline: since + timeout) {
        let (handler, context) = loopBound.value
        handler.expire(deadline, context: context)
      }
      self.state = .receiving(deadline, since: since, timer: timer)
    }
    context.fireChannelReadComplete()
  }

  package func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
    self.response.observe(Self.unwrapOutboundIn(data))
    context.write(data, promise: promise)
  }

  package func errorCaught(context: ChannelHandlerContext, error: any Error) {
    // Closing mid-request makes the decoder report the cut-off request; the 408 and its log
    // line already said what happened.
    if case .expired = self.state, error is HTTPParserError {
      return
    }
    context.fireErrorCaught(error)
  }

  package func channelInactive(context: ChannelHandlerContext) {
    self.cancelTimer()
    self.state = .expired
    context.fireChannelInactive()
  }

  package func handlerRemoved(context: ChannelHandlerContext) {
    self.cancelTimer()
  }

  private func cancelTimer() {
    if case .receiving(_, _, let timer?) = self.state {
      timer.cancel()
    }
  }

  private func expire(_ deadline: Deadline, context: ChannelHandlerContext) {
    guard case .receiving(deadline, _, _) = self.state else { return }
    self.state = .expired
    self.logger.info(
      "HTTP/1.1 request not received in time: closing the connection",
      metadata: [
        "deadline": "\(deadline.rawValue)",
        "peer": "\(context.channel.remoteAddress.map { "\($0)" } ?? "?")",
      ]
    )
    let channel = context.channel
    guard !self.response.inProgress else {
      context.close(promise: nil)
      return
    }
    let text = "request not received in time (\(deadline.rawValue))\n"
    let headers = HTTPHeaders([
      ("connection", "close"),
      ("content-type", "text/plain; charset=utf-8"),
      ("content-length", String(text.utf8.count)),
    ])
    context.write(Self.wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .requestTimeout, headers: headers))), promise: nil)
    context.write(Self.wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: text)))), promise: nil)
    context.writeAndFlush(Self.wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
    // A client that reads nothing never lets that write complete; it gets a moment, not forever.
    context.eventLoop.scheduleTask(in: Self.closeGrace) { channel.close(promise: nil) }
  }

  /// How long the 408 may take to leave before the connection closes anyway.
  package static let closeGrace = TimeAmount.seconds(1)
}

@available(*, unavailable)
extension HTTP1RequestDeadlineHandler: Sendable {}
