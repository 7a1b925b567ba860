//===----------------------------------------------------------------------===//
// End-to-end tests: Invalid provider answers.
//===----------------------------------------------------------------------===//

import Foundation
import TestSupport
import Testing

/// A provider answer with one invalid entry (the rest valid and different from the current set).
struct InvalidAnswer: Sendable, CustomTestStringConvertible {
  var label: String
  /// The header name `/status` must name.
  var badName: String
  /// A marker inside the bad value that must never be shown.
  var secret: String
  var headers: [String: String]

  static let all = [
    InvalidAnswer(
      label: "CRLF in a value", badName: "x-crlf", secret: "SECRET-CRLF-91b2",
      headers: ["x-a": "changed", "x-crlf": "SECRET-CRLF-91b2\r\nx-injected: evil"]),
    InvalidAnswer(
      label: "space in a name", badName: "bad name", secret: "SECRET-SPACE-42aa",
      headers: ["x-a": "changed", "bad name": "SECRET-SPACE-42aa"]),
    InvalidAnswer(
      label: "pseudo-header :authority", badName: ":authority", secret: "SECRET-AUTHORITY-0c3d",
      headers: ["x-a": "changed", ":authority": "SECRET-AUTHORITY-0c3d"]),
  ]

  var testDescription: String { label }
}

extension EndToEnd {
  @Suite("Invalid provider answers")
  struct ProviderValidation {
    @Test(
      "an answer with an invalid header is rejected whole: previous headers stay, /status names the header, never the value",
      arguments: InvalidAnswer.all)
    func invalidAnswerIsRejected(invalid: InvalidAnswer) async throws {
      try await withTestScope("invalidAnswer-\(invalid.badName)") { scope in
        let stack = try await Stack.start(scope: scope, answer: .headers(["x-a": "good-1", "x-b": "kept"])) { config in
          config.providers[0].ttl = "2s"
          config.providers[0].maxStale = "2s"
        }
        try await stack.augmenter.waitUntilReady()
        try await stack.waitForUpstream("the first answer") { $0.values("x-a") == ["good-1"] }
        let before = try #require(try await stack.augmenter.status().providers.first)
        #expect(before.lastRejection == nil, "no rejection yet, got \(before.lastRejection ?? "")")

        stack.provider.setAnswer(.headers(invalid.headers))
        let rejected = try await eventually("/status to show the rejection", timeout: .seconds(8)) {
          try await stack.augmenter.status().providers.first.flatMap { $0.lastRejection == nil ? nil : $0 }
        }
        let rejection = try #require(rejected.lastRejection)
        #expect(rejection.contains(invalid.badName), "last_rejection must name \(invalid.badName): \(rejection)")
        #expect(!rejection.contains(invalid.secret), "last_rejection shows the value: \(rejection)")
        #expect(rejected.digest == before.digest, "a rejected answer must not change the current set")

        let (response, received) = try await stack.send()
        #expect(response.status == 200, "\(response)")
        let upstream = try #require(received, "the request did not reach the upstream: \(response)")
        #expect(upstream.values("x-a") == ["good-1"], "nothing of a rejected answer may be applied")
        #expect(upstream.values("x-b") == ["kept"])
        #expect(upstream.values("x-injected") == [])
        #expect(upstream.values(invalid.badName) == [])
        let shown = upstream.headers.filter { $0.value.contains(invalid.secret) }
        #expect(shown.isEmpty, "the bad value reached the upstream: \(shown)")

        let status = try await stack.augmenter.status()
        #expect(!status.response.text.contains(invalid.secret))
        #expect(!stack.augmenter.process.log().contains(invalid.secret), "the rejected value was logged")
      }
    }
  }
}
