// One immutable object every check reads and a reload replaces whole (DESIGN.md, hot-path rule:
// a lock held only for a pointer copy).

import Synchronization

/// Holds the object in force — a configuration's decider and what goes with it — which a reload
/// replaces with one pointer swap, so every reader sees the old object or the new one, never a
/// mix of the two.
///
/// The lock is held only to copy the reference out (one retain); the object itself is immutable,
/// so a check that took it keeps deciding with it even if a reload publishes another meanwhile.
public final class Published<Value: AnyObject & Sendable>: Sendable {
  private let current: Mutex<Value>

  /// Holds `value` until it is replaced.
  public init(_ value: Value) {
    self.current = Mutex(value)
  }

  /// The object in force.
  public var value: Value {
    current.withLock { $0 }
  }

  /// Puts `value` in force; returns the object it replaced.
  @discardableResult
  public func replace(with value: Value) -> Value {
    current.withLock { current in
      let previous = current
      current = value
      return previous
    }
  }
}
