// Racing an operation against a deadline on the injected clock, without waiting for the loser.
//
// A task group would be the structured way, but a group waits for all its children before it
// returns, so a fetch that ignores cancellation would hold the refresher forever. Here both
// sides are unstructured tasks and whichever finishes first resumes the caller; the loser is
// cancelled and, for the operation, abandoned.

import Synchronization

/// How a race ended.
enum RaceOutcome<Value: Sendable>: Sendable {
  /// The operation finished first.
  case finished(Result<Value, any Error>)
  /// The deadline passed first.
  case timedOut
  /// The waiting task was cancelled.
  case cancelled
}

/// Runs `operation` until it finishes or `deadline` passes on `clock`, whichever comes first.
///
/// On timeout or cancellation the operation's task is cancelled and not awaited. The timer's
/// task is always cancelled and awaited, so no sleeper outlives the call.
func race<Value: Sendable>(
  _ operation: @escaping @Sendable () async throws -> Value,
  deadline: MonotonicInstant,
  clock: any AugmenterClock
) async -> RaceOutcome<Value> {
  let referee = Referee<Value>()
  let work = Task {
    do {
      referee.decide(.finished(.success(try await operation())))
    } catch {
      referee.decide(.finished(.failure(error)))
    }
  }
  let timer = Task {
    do {
      try await clock.sleep(until: deadline)
      referee.decide(.timedOut)
    } catch {
      // Cancelled: the race was decided some other way.
    }
  }
  let outcome = await withTaskCancellationHandler {
    await withCheckedContinuation { continuation in
      referee.wait(continuation)
    }
  } onCancel: {
    referee.decide(.cancelled)
  }
  if case .finished = outcome {} else { work.cancel() }
  timer.cancel()
  await timer.value
  return outcome
}

/// Hands the first decision to the waiting continuation, whichever arrives first.
private final class Referee<Value: Sendable>: Sendable {
  private struct State {
    var decision: RaceOutcome<Value>?
    var decided = false
    var waiter: CheckedContinuation<RaceOutcome<Value>, Never>?
    var resumed = false
  }
  private let state = Mutex(State())

  func decide(_ outcome: RaceOutcome<Value>) {
    let waiter: CheckedContinuation<RaceOutcome<Value>, Never>? = state.withLock { state in
      guard !state.decided else { return nil }
      state.decided = true
      state.decision = outcome
      guard let waiter = state.waiter, !state.resumed else { return nil }
      state.resumed = true
      return waiter
    }
    waiter?.resume(returning: outcome)
  }

  func wait(_ continuation: CheckedContinuation<RaceOutcome<Value>, Never>) {
    let decided: RaceOutcome<Value>? = state.withLock { state in
      if let decision = state.decision {
        state.resumed = true
        return decision
      }
      state.waiter = continuation
      return nil
    }
    if let decided { continuation.resume(returning: decided) }
  }
}
