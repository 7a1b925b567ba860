//===----------------------------------------------------------------------===//
// Augmenter — whether a listener accepts connections right now, and why not (no I/O).
//===----------------------------------------------------------------------===//

import NIOCore

extension ConnectionLimiter {
  /// The accept decisions of one listener as a plain value: open connections against
  /// `max_connections`, and the back-off after a failed `accept` (descriptor limit reached).
  ///
  /// A listener accepts only while neither reason to pause holds; the handler turns
  /// ``accepting`` into the server channel's auto-read.
  struct StateMachine {
    /// What changed with an event, for the handler to log.
    enum Change: Equatable {
      case none
      /// Open connections reached the maximum: accepting paused.
      case limitReached
      /// Below the maximum again: accepting resumes (unless backing off).
      case limitCleared
    }

    /// The first pause after a failed accept; doubled on each failure in a row, up to `maxBackoff`.
    static let initialBackoff = TimeAmount.milliseconds(20)
    /// The longest pause: a descriptor freed elsewhere is picked up within this.
    static let maxBackoff = TimeAmount.seconds(1)

    let maxConnections: Int
    private(set) var open = 0
    private(set) var atLimit = false
    private(set) var backingOff = false
    private var nextBackoff = StateMachine.initialBackoff

    init(maxConnections: Int) {
      precondition(maxConnections > 0)
      self.maxConnections = maxConnections
    }

    /// True while the listener should take connections from the backlog.
    var accepting: Bool { !self.atLimit && !self.backingOff }

    /// A connection was accepted.
    mutating func accepted() -> Change {
      self.open += 1
      self.nextBackoff = Self.initialBackoff
      if !self.atLimit, self.open >= self.maxConnections {
        self.atLimit = true
        return .limitReached
      }
      return .none
    }

    /// An accepted connection closed. Also ends a back-off early: a descriptor was just freed.
    mutating func closed() -> Change {
      self.open = max(0, self.open - 1)
      self.backingOff = false
      if self.atLimit, self.open < self.maxConnections {
        self.atLimit = false
        return .limitCleared
      }
      return .none
    }

    /// `accept` failed (EMFILE, ENFILE, ENOBUFS, ENOMEM): pause for the returned time.
    mutating func acceptFailed() -> TimeAmount {
      self.backingOff = true
      let delay = self.nextBackoff
      self.nextBackoff = min(.nanoseconds(self.nextBackoff.nanoseconds * 2), Self.maxBackoff)
      return delay
    }

    /// The back-off pause is over: try accepting again.
    mutating func backoffEnded() {
      self.backingOff = false
    }
  }
}
