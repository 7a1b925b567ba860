//===----------------------------------------------------------------------===//
// Accepting under max_connections: the limiter's state machine, and the rate-limited log line.
//===----------------------------------------------------------------------===//

import Logging
import NIOCore
import Testing

@testable import AugmenterServer

@Suite struct ConnectionLimiterStateMachineTests {
  @Test func pausesAtTheLimitAndResumesWhenOneCloses() {
    var state = ConnectionLimiter.StateMachine(maxConnections: 2)
    #expect(state.accepted() == .none)
    #expect(state.accepting)
    #expect(state.accepted() == .limitReached)
    #expect(!state.accepting)
    #expect(state.closed() == .limitCleared)
    #expect(state.accepting)
  }

  @Test func backsOffAfterAFailedAcceptGrowingToACap() {
    var state = ConnectionLimiter.StateMachine(maxConnections: 10)
    #expect(state.acceptFailed() == ConnectionLimiter.StateMachine.initialBackoff)
    #expect(!state.accepting)
    state.backoffEnded()
    #expect(state.accepting)
    var last = TimeAmount.zero
    for _ in 0..<20 { last = state.acceptFailed() }
    #expect(last == ConnectionLimiter.StateMachine.maxBackoff)
    // A connection closing frees a descriptor: try again at once.
    _ = state.accepted()
    _ = state.closed()
    #expect(state.accepting)
    #expect(state.acceptFailed() == ConnectionLimiter.StateMachine.initialBackoff)
  }

  @Test func rateLimitedLogLetsOneLineThroughPerInterval() {
    var log = RateLimitedLog(interval: .seconds(10))
    let start = NIODeadline.uptimeNanoseconds(1_000_000_000)
    #expect(log.admit(now: start) == (true, 0))
    #expect(log.admit(now: start + .seconds(1)) == (false, 0))
    #expect(log.admit(now: start + .seconds(2)) == (false, 0))
    #expect(log.admit(now: start + .seconds(11)) == (true, 2))
  }
}
