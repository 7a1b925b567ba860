//===----------------------------------------------------------------------===//
// Augmenter — at most one log line per interval for events an attacker can repeat at will.
//===----------------------------------------------------------------------===//

import NIOCore

/// Lets one line through per `interval` and counts the ones it held back, so the next line can
/// say how many it stands for. Confined to one event loop (a plain value in a handler).
struct RateLimitedLog {
  let interval: TimeAmount
  private var lastLine: NIODeadline?
  private var suppressed = 0

  init(interval: TimeAmount = .seconds(10)) {
    self.interval = interval
  }

  /// Whether to log now; if so, how many occurrences were held back since the last line.
  mutating func admit(now: NIODeadline) -> (log: Bool, suppressed: Int) {
    if let last = self.lastLine, now < last + self.interval {
      self.suppressed += 1
      return (false, 0)
    }
    let held = self.suppressed
    self.lastLine = now
    self.suppressed = 0
    return (true, held)
  }
}
