//===----------------------------------------------------------------------===//
// Augmenter — a listener's admission: max_connections, and back-off when accept fails.
//===----------------------------------------------------------------------===//

import Logging
import NIOCore
import NIOPosix

/// The first handler of a listening (server) channel: counts the connections it accepted, stops
/// accepting at `max_connections` until one closes, and pauses accepting after a failed
/// `accept` (typically EMFILE at the descriptor limit).
///
/// Pausing means turning the server channel's auto-read off, which also takes the listening
/// socket out of epoll: new connections wait in the kernel's backlog, costing this process
/// nothing. Only swallowing `read()` would not do for the failed accept: NIO keeps its read
/// pending when `accept` throws, so the socket stays registered, epoll reports it readable again
/// at once (the connection is still in the backlog) and the loop spins on EMFILE. That is what
/// NIOCore's `AcceptBackoffHandler` does (and `ServerBootstrap.bind(host:port:)` does not even
/// install it; only its async variant does), so it cannot fix the spin.
///
/// Set the server channel's `maxMessagesPerRead` to 1 so the limit is exact: NIO otherwise
/// accepts up to four connections per wake-up before the handler can pause it.
final class ConnectionLimiter: ChannelInboundHandler, RemovableChannelHandler {
  typealias InboundIn = any Channel
  typealias InboundOut = any Channel

  private var state: StateMachine
  private let listener: String
  private let logger: Logger
  private var limitLog = RateLimitedLog()
  private var backoffLog = RateLimitedLog()
  /// Whether the last "reached" line was logged: its "cleared" line is logged only then.
  private var reachedLogged = false
  private var backoffTimer: Scheduled<Void>?
  private var active = true

  /// - Parameters:
  ///   - listener: the listener's name in log lines (`check`, `admin`).
  init(maxConnections: Int, listener: String, logger: Logger) {
    self.state = StateMachine(maxConnections: maxConnections)
    self.listener = listener
    self.logger = logger
  }

  /// Connections accepted through this listener and still open.
  var openConnections: Int { self.state.open }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    let child = Self.unwrapInboundIn(data)
    let change = self.state.accepted()
    let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
    let serverLoop = context.eventLoop
    child.closeFuture.whenComplete { _ in
      serverLoop.execute {
        let (limiter, context) = loopBound.value
        guard limiter.active else { return }
        limiter.apply(limiter.state.closed(), context: context)
      }
    }
    self.apply(change, context: context)
    context.fireChannelRead(data)
  }

  func errorCaught(context: ChannelHandlerContext, error: any Error) {
    // Errors of accept that NIO does not close the listener for (EMFILE, ENFILE, ENOBUFS,
    // ENOMEM, ECONNABORTED) arrive here; anything else closes the listener anyway.
    guard let ioError = error as? IOError else {
      context.fireErrorCaught(error)
      return
    }
    let delay = self.state.acceptFailed()
    let (log, suppressed) = self.backoffLog.admit(now: context.eventLoop.now)
    if log {
      self.logger.warning(
        "accepting connections failed: pausing accepts",
        metadata: [
          "listener": "\(self.listener)",
          "error": "\(ioError)",
          "pause": "\(delay)",
          "open": "\(self.state.open)",
          "failures_not_logged": "\(suppressed)",
        ]
      )
    }
    self.backoffTimer?.cancel()
    let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
    self.backoffTimer = context.eventLoop.scheduleTask(in: delay) {
      let (limiter, context) = loopBound.value
      limiter.backoffTimer = nil
      guard limiter.active else { return }
      limiter.state.backoffEnded()
      limiter.updateAccepting(context: context)
    }
    self.updateAccepting(context: context)
  }

  func channelInactive(context: ChannelHandlerContext) {
    self.stop()
    context.fireChannelInactive()
  }

  func handlerRemoved(context: ChannelHandlerContext) {
    self.stop()
  }

  private func stop() {
    self.active = false
    self.backoffTimer?.cancel()
    self.backoffTimer = nil
  }

  private func apply(_ change: StateMachine.Change, context: ChannelHandlerContext) {
    switch change {
    case .none:
      break
    case .limitReached:
      let (log, suppressed) = self.limitLog.admit(now: context.eventLoop.now)
      self.reachedLogged = log
      if log {
        self.logger.notice(
          "max_connections reached: not accepting until a connection closes",
          metadata: [
            "listener": "\(self.listener)",
            "max_connections": "\(self.state.maxConnections)",
            "times_not_logged": "\(suppressed)",
          ]
        )
      }
    case .limitCleared:
      // Logged only when the line it clears was, so the pair shares one rate limit.
      if self.reachedLogged {
        self.reachedLogged = false
        self.logger.info(
          "below max_connections again: accepting",
          metadata: ["listener": "\(self.listener)", "open": "\(self.state.open)"]
        )
      }
    }
    self.updateAccepting(context: context)
  }

  /// Makes the listening socket's auto-read match the state.
  private func updateAccepting(context: ChannelHandlerContext) {
    guard self.active, let options = context.channel.syncOptions else { return }
    let accepting = self.state.accepting
    if (try? options.getOption(.autoRead)) != accepting {
      try? options.setOption(.autoRead, value: accepting)
    }
  }
}

@available(*, unavailable)
extension ConnectionLimiter: Sendable {}

extension ServerBootstrap {
  /// Puts a ``ConnectionLimiter`` on the listening channel (one accept per wake-up, so the
  /// limit is exact).
  func limitingConnections(to maxConnections: Int, listener: String, logger: Logger) -> ServerBootstrap {
    self.serverChannelOption(.maxMessagesPerRead, value: 1)
      .serverChannelInitializer { channel in
        channel.eventLoop.makeCompletedFuture {
          try channel.pipeline.syncOperations.addHandler(
            ConnectionLimiter(maxConnections: maxConnections, listener: listener, logger: logger))
        }
      }
  }
}
