// A provider fetcher that plays a script and can hold fetches until the test releases them.

import AugmenterCore
import Synchronization

/// What one fetch does.
enum FetchStep: Sendable {
  /// Returns this answer at once.
  case answer(FetchedAnswer)
  /// Throws at once.
  case fail(TestFetchError)
  /// Blocks, ignoring cancellation, until `releaseBlocked(with:)`.
  case block
}

/// The error a scripted fetch throws.
struct TestFetchError: Error, CustomStringConvertible {
  var description: String
}

/// Plays `steps` in order; once they run out, repeats the last one.
final class ScriptedFetcher: ProviderFetcher, Sendable {
  private struct State {
    var steps: [FetchStep]
    var calls = 0
    var blocked: [CheckedContinuation<FetchedAnswer, Never>] = []
    var callWaiters: [(count: Int, continuation: CheckedContinuation<Void, Never>)] = []
  }

  private let state: Mutex<State>

  init(_ steps: [FetchStep]) {
    precondition(!steps.isEmpty)
    state = Mutex(State(steps: steps))
  }

  /// How many fetches have started.
  var calls: Int { state.withLock { $0.calls } }

  /// Appends steps to the script.
  func append(_ steps: FetchStep...) {
    state.withLock { $0.steps.append(contentsOf: steps) }
  }

  func fetch(_ provider: ProviderConfig) async throws -> FetchedAnswer {
    let step: FetchStep = state.withLock { state in
      state.steps.count > 1 ? state.steps.removeFirst() : state.steps[0]
    }
    switch step {
    case .answer(let answer):
      countCall()
      return answer
    case .fail(let error):
      countCall()
      throw error
    case .block:
      // Deliberately not cancellable: models a fetcher that hangs. The call is counted when the
      // continuation is stored, so a test that saw the call can release it.
      return await withCheckedContinuation { continuation in
        countCall { $0.blocked.append(continuation) }
      }
    }
  }

  /// Counts a call (after `also`, under the same lock) and wakes the waiters it satisfies.
  private func countCall(also: (inout State) -> Void = { _ in }) {
    let ready: [CheckedContinuation<Void, Never>] = state.withLock { state in
      also(&state)
      state.calls += 1
      var ready: [CheckedContinuation<Void, Never>] = []
      state.callWaiters.removeAll { waiter in
        if waiter.count <= state.calls {
          ready.append(waiter.continuation)
          return true
        }
        return false
      }
      return ready
    }
    ready.forEach { $0.resume() }
  }

  /// Waits until at least `count` fetches have started.
  func waitForCalls(_ count: Int) async {
    await withCheckedContinuation { continuation in
      let done = state.withLock { state in
        if state.calls >= count { return true }
        state.callWaiters.append((count, continuation))
        return false
      }
      if done { continuation.resume() }
    }
  }

  /// How many fetches are blocked now.
  var blockedCount: Int { state.withLock { $0.blocked.count } }

  /// Lets every blocked fetch return `answer`.
  func releaseBlocked(with answer: FetchedAnswer) {
    let blocked = state.withLock { state in
      defer { state.blocked.removeAll() }
      return state.blocked
    }
    blocked.forEach { $0.resume(returning: answer) }
  }
}

extension FetchedAnswer {
  /// A 200 answer whose body is `json`.
  static func json(_ json: String, status: Int = 200) -> FetchedAnswer {
    FetchedAnswer(status: status, body: Array(json.utf8))
  }
}
