//===----------------------------------------------------------------------===//
// End-to-end tests: `log_format: json` through Envoy: every line parses, no value leaks.
//===----------------------------------------------------------------------===//

import Foundation
import TestSupport
import Testing

extension EndToEnd {
  /// Operators feed Augmenter's log into pipelines that parse it line by line.
  @Suite("Structured logs")
  struct LogFormat {
    @Test("log_format json at debug: every line of the process's output is a JSON object; the provider's secret appears nowhere")
    func everyLineIsJSON() async throws {
      try await withTestScope { scope in
        let secret = "Bearer json-log-secret-7d41"
        let stack = try await Stack.start(
          scope: scope, answer: .headers(["authorization": secret]), envoyConfig: "ext-proc.yaml"
        ) { config in
          config.extraLines = ["log_format: json"]
        }
        try await stack.augmenter.waitUntilReady()
        for _ in 0..<5 {
          let (response, received) = try await stack.send()
          #expect(response.status == 200, "\(response)")
          #expect(received?.values("authorization") == [secret])
        }
        // A failing provider fetch, logged as a warning with metadata.
        stack.provider.setAnswer(.raw(status: 503, "down"))
        try await Task.sleep(for: .seconds(3))

        let log = stack.augmenter.process.log()
        let lines = log.split(separator: "\n", omittingEmptySubsequences: true)
        #expect(lines.count >= 3, "\(log)")
        var levels: Set<String> = []
        for line in lines {
          let object = try #require(
            try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "not a JSON object: \(line)")
          #expect(object["time"] is String && object["message"] is String && object["metadata"] is [String: Any], "\(line)")
          if let level = object["level"] as? String { levels.insert(level) }
        }
        #expect(levels.contains("warning"), "the failed fetch was not logged: \(levels)")
        #expect(!log.contains("json-log-secret-7d41"), "a header value was logged")
      }
    }
  }
}
