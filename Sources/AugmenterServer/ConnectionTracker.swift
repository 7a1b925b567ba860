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
}
