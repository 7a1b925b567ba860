//===----------------------------------------------------------------------===//
// Augmenter — the open connections of a listener, for draining on shutdown.
//===----------------------------------------------------------------------===//

public import NIOCore
import Synchronization

/// Keeps every accepted channel until it closes, so shutdown can reach each of them.
public final class ConnectionTracker: Sendable {
  private let channels = Mutex<[ObjectIdentifier: any Channel]>([:])

  /// Creates an empty tracker.
  public init() {}

  /// Tracks a channel until its close future completes.
  public func add(_ channel: any Channel) {
    let id = ObjectIdentifier(channel)
    self.channels.withLock { $0[id] = channel }
    channel.closeFuture.whenComplete { _ in
      _ = self.channels.withLock { $0.removeValue(forKey: id) }
    }
  }

  /// The channels open right now.
  public var open: [any Channel] {
    self.channels.withLock { Array($0.values) }
  }

  /// How many channels are open.
  public var count: Int {
    self.channels.withLock { $0.count }
  }

  /// Waits until every channel of `channels` has closed (`true`), or `timeout` passed or the
  /// task was cancelled (`false`). Awaits their close futures; nothing polls.
  func allClosed(_ channels: [any Channel], within timeout: Duration, on eventLoop: any EventLoop) async -> Bool {
    guard !channels.isEmpty else { return true }
    // One promise, completed once on `eventLoop` by whichever comes first: every close, the
    // timer, or cancellation.
    let outcome = eventLoop.makePromise(of: Bool.self)
    let settled = NIOLoopBoundBox.makeBoxSendingValue(false, as: Bool.self, eventLoop: eventLoop)
    let settle: @Sendable (Bool) -> Void = { closed in
      eventLoop.execute {
        guard !settled.value else { return }
        settled.value = true
        outcome.succeed(closed)
      }
    }
    EventLoopFuture.andAllComplete(channels.map(\.closeFuture), on: eventLoop).whenComplete { _ in settle(true) }
    let timer = eventLoop.scheduleTask(in: TimeAmount(timeout)) { settle(false) }
    let closed = await withTaskCancellationHandler {
      (try? await outcome.futureResult.get()) ?? false
    } onCancel: {
      settle(false)
    }
    timer.cancel()
    return closed
  }
}
