//===----------------------------------------------------------------------===//
// Test support: a clock that only moves when the test says so, and lets the test see who sleeps.
//===----------------------------------------------------------------------===//

package import AugmenterCore
package import Foundation
import NIOConcurrencyHelpers

/// A manual `AugmenterClock`: `sleep(until:)` suspends until `advance(to:)` passes the deadline
/// (or the sleeping task is cancelled); `waitForSleeper(where:)` lets a test wait, without
/// sleeping itself, until the code under test has reached a sleep. Never advanced, it is a frozen
/// clock: reading it takes a lock and allocates nothing (the allocation tests rely on that).
package final class ManualClock: AugmenterClock, Sendable {
  private struct Sleeper {
    var id: Int
    var deadline: MonotonicInstant
    var continuation: CheckedContinuation<Void, any Error>
  }

  private struct Waiter {
    var predicate: @Sendable (MonotonicInstant) -> Bool
    var continuation: CheckedContinuation<MonotonicInstant, Never>
  }

  private struct State {
    var now: MonotonicInstant
    var sleepers: [Sleeper] = []
    var cancelledBeforeSleeping: Set<Int> = []
    var nextID = 0
    var waiters: [Waiter] = []
  }

  // A pthread-based lock, not Synchronization's Mutex: on Linux Mutex waits with raw futex calls
  // that ThreadSanitizer does not see, so it reported the clock's lock-protected state as raced.
  private let state: NIOLockedValueBox<State>
  /// Wall time at the monotonic origin.
  package let wallOrigin = Date(timeIntervalSince1970: 1_700_000_000)

  /// A clock reading `now` (1000 s past the monotonic origin unless given).
  package init(now: MonotonicInstant = MonotonicInstant(nanoseconds: 1_000_000_000_000)) {
    state = NIOLockedValueBox(State(now: now))
  }

  /// The time the test last set.
  package func now() -> MonotonicInstant {
    state.withLockedValue { $0.now }
  }

  /// `wallOrigin` plus the monotonic time: wall time moves with `advance`.
  package func wallNow() -> Date {
    wallOrigin.addingTimeInterval(Double(now().nanoseconds) / 1e9)
  }

  /// Deadlines of the tasks sleeping now.
  package var sleeperDeadlines: [MonotonicInstant] {
    state.withLockedValue { $0.sleepers.map(\.deadline) }
  }

  /// Suspends until `advance` reaches `deadline` (at once if it has passed); throws when cancelled.
  package func sleep(until deadline: MonotonicInstant) async throws {
    let id = state.withLockedValue { state in
      state.nextID += 1
      return state.nextID
    }
    try await withTaskCancellationHandler {
      try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
        enum Action {
          case resume, cancel
          case wait([Waiter])
        }
        let action: Action = state.withLockedValue { state in
          if state.cancelledBeforeSleeping.remove(id) != nil { return .cancel }
          if deadline <= state.now { return .resume }
          state.sleepers.append(Sleeper(id: id, deadline: deadline, continuation: continuation))
          // Wake the waiters this sleeper satisfies.
          var satisfied: [Waiter] = []
          state.waiters.removeAll { waiter in
            if waiter.predicate(deadline) {
              satisfied.append(waiter)
              return true
            }
            return false
          }
          return .wait(satisfied)
        }
        switch action {
        case .resume: continuation.resume()
        case .cancel: continuation.resume(throwing: CancellationError())
        case .wait(let satisfied): satisfied.forEach { $0.continuation.resume(returning: deadline) }
        }
      }
    } onCancel: {
      let sleeper: Sleeper? = state.withLockedValue { state in
        if let index = state.sleepers.firstIndex(where: { $0.id == id }) {
          return state.sleepers.remove(at: index)
        }
        // Not registered yet: the operation will see this and throw at once.
        state.cancelledBeforeSleeping.insert(id)
        return nil
      }
      sleeper?.continuation.resume(throwing: CancellationError())
    }
  }

  /// Moves time to `instant` (never backwards) and wakes every sleeper whose deadline passed.
  package func advance(to instant: MonotonicInstant) {
    let due: [Sleeper] = state.withLockedValue { state in
      state.now = max(state.now, instant)
      let now = state.now
      let due = state.sleepers.filter { $0.deadline <= now }
      state.sleepers.removeAll { $0.deadline <= now }
      return due
    }
    due.forEach { $0.continuation.resume() }
  }

  /// Moves time forward by `duration`.
  package func advance(by duration: Duration) {
    advance(to: now() + duration)
  }

  /// Waits until some task sleeps with a deadline matching `predicate`; returns that deadline.
  package func waitForSleeper(where predicate: @escaping @Sendable (MonotonicInstant) -> Bool) async -> MonotonicInstant {
    await withCheckedContinuation { continuation in
      let found: MonotonicInstant? = state.withLockedValue { state in
        if let sleeper = state.sleepers.first(where: { predicate($0.deadline) }) { return sleeper.deadline }
        state.waiters.append(Waiter(predicate: predicate, continuation: continuation))
        return nil
      }
      if let found { continuation.resume(returning: found) }
    }
  }
}
