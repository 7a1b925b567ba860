//===----------------------------------------------------------------------===//
// End-to-end tests: the one serialized suite every end-to-end test belongs to.
//===----------------------------------------------------------------------===//

import Testing

/// Every end-to-end test: the built `augmenter`, the real Envoy 1.40 from the venv, and in-process
/// provider and upstream servers on free loopback ports.
///
/// Serialized: the tests start processes and drive load, and the machine has two cores; running
/// them one at a time keeps their bounds meaningful. The failure tracker lets each test print the
/// logs of the processes it started when it fails. The time limit (per test) turns a hang into a
/// failure long before CI's own limit.
@Suite("End to end", .serialized, .timeLimit(.minutes(10)), FailureTracker.trait)
struct EndToEnd {}
