//===----------------------------------------------------------------------===//
// `log_format: json`: each event one JSON object on one line.
//===----------------------------------------------------------------------===//

import AugmenterServer
import Foundation
import Logging
import Synchronization
import Testing

@Suite struct JSONLogHandlerTests {
  /// Lines a handler wrote.
  final class Lines: Sendable {
    let lines = Mutex<[String]>([])
    var all: [String] { self.lines.withLock { $0 } }
  }

  private static func logger(_ lines: Lines, level: Logger.Level = .info) -> Logger {
    var handler = JSONLogHandler(label: "augmenter.test") { line in lines.lines.withLock { $0.append(line) } }
    handler.logLevel = level
    return Logger(label: "augmenter.test") { _ in handler }
  }

  @Test("an event is one line of JSON with time, level, message, label, source and nested metadata")
  func oneObjectPerLine() throws {
    let lines = Lines()
    var logger = Self.logger(lines)
    logger[metadataKey: "listener"] = "check"
    logger.warning(
      "provider refresh failed\nsecond line \"quoted\"",
      metadata: ["provider": "tokens", "consecutive_failures": "3", "kinds": ["a", "b"], "nested": ["k": "v"]])
    logger.debug("below the level")
    #expect(lines.all.count == 1)
    let line = try #require(lines.all.first)
    #expect(!line.contains("\n"), "one line: \(line)")
    let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "\(line)")
    #expect(object["level"] as? String == "warning")
    #expect(object["message"] as? String == "provider refresh failed\nsecond line \"quoted\"")
    #expect(object["label"] as? String == "augmenter.test")
    #expect((object["source"] as? String)?.isEmpty == false)
    let time = try #require(object["time"] as? String)
    #expect(time.count == 24 && time.hasSuffix("Z") && time.dropFirst(10).first == "T", "\(time)")
    let metadata = try #require(object["metadata"] as? [String: Any])
    #expect(metadata["provider"] as? String == "tokens")
    #expect(metadata["listener"] as? String == "check")
    #expect(metadata["kinds"] as? [String] == ["a", "b"])
    #expect((metadata["nested"] as? [String: String]) == ["k": "v"])
  }

  @Test("the time is now, in UTC")
  func timeIsNow() throws {
    let lines = Lines()
    Self.logger(lines).info("tick")
    let object = try #require(try JSONSerialization.jsonObject(with: Data(lines.all[0].utf8)) as? [String: Any])
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    let text = try #require(object["time"] as? String)
    let time = try #require(formatter.date(from: text), "\(text)")
    #expect(abs(time.timeIntervalSinceNow) < 5)
  }
}
