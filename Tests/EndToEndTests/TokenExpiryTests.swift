//===----------------------------------------------------------------------===//
// End-to-end tests: a JWT's exp bounds what a JSON-map endpoint's headers may serve.
//===----------------------------------------------------------------------===//

import Foundation
import TestSupport
import Testing

extension EndToEnd {
  /// Today's kind of provider, serving a JWT with an `exp`: the token's own expiry minus the skew
  /// ends serving, whatever `ttl` and `max_stale` allow.
  @Suite("Token expiry from a JSON-map endpoint")
  struct JSONMapTokenExpiry {
    /// An unsigned JWT with `exp` (Augmenter reads it, never verifies it).
    static func jwt(exp: Date) -> String {
      func encoded(_ text: String) -> String {
        Data(text.utf8).base64EncodedString().replacingOccurrences(of: "+", with: "-")
          .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
      }
      return encoded(#"{"alg":"none"}"#) + "." + encoded(#"{"sub":"w","exp":\#(Int(exp.timeIntervalSince1970))}"#) + ".c2ln"
    }

    @Test(
      "the last good JWT is served until exp minus the skew, not for max_stale; an IdP clock ahead is a rejection; a fresh JWT flows again")
    func expiryBeatsMaxStale() async throws {
      try await withTestScope("json-map-jwt-exp") { scope in
        let exp = Date().addingTimeInterval(6).rounded()
        let stack = try await Stack.start(scope: scope, answer: .headers(["authorization": "Bearer \(Self.jwt(exp: exp))"])) {
          config in
          config.providers[0].ttl = "1m"
          config.providers[0].maxStale = "10m"
          config.providers[0].timeout = "500ms"
          config.providers[0].expirySkew = "1s"
          config.onUnavailable = "deny"
        }
        try await stack.augmenter.waitUntilReady()

        var lastServed: Date?
        let denied = try await eventually("the JWT to stop being served", timeout: .seconds(15), every: .milliseconds(50)) {
          () async throws -> HTTPResponse? in
          let (response, received) = try await stack.send()
          guard response.status == 200, let received else { return response }
          #expect(
            received.receivedAt < exp.addingTimeInterval(-1), "served \(received.receivedAt.timeIntervalSince(exp)) s relative to exp")
          lastServed = received.receivedAt
          return nil
        }
        #expect(denied.status == 503, "\(denied)")
        #expect(try #require(lastServed) > exp.addingTimeInterval(-1.5))

        // The endpoint keeps answering the same token: refused, with the reason in /status.
        let rejected = try await eventually("/status to report the rejection", timeout: .seconds(10)) {
          try await stack.augmenter.status().providers.first.flatMap { $0.lastRejection?.contains("expiry_skew") == true ? $0 : nil }
        }
        #expect(rejected.usable == false)

        let fresh = "Bearer \(Self.jwt(exp: Date().addingTimeInterval(120)))"
        stack.provider.setAnswer(.headers(["authorization": fresh]))
        try await stack.waitForUpstream("the fresh token", timeout: .seconds(40)) { $0.values("authorization") == [fresh] }
      }
    }
  }
}

extension Date {
  /// Whole seconds, as a JWT's NumericDate holds them.
  fileprivate func rounded() -> Date { Date(timeIntervalSince1970: timeIntervalSince1970.rounded(.down)) }
}
