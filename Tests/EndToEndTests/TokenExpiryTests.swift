//===----------------------------------------------------------------------===//
// End-to-end tests: a JWT's exp bounds what a JSON-map endpoint's headers may serve.
//===----------------------------------------------------------------------===//

import Foundation
import Synchronization
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
      "under steady h2load for several token lifetimes no JWT reaches the upstream past exp minus the skew; one fetch per lifetime, at ~80 %"
    )
    func neverExpiredUnderLoad() async throws {
      try await withTestScope("json-map-jwt-under-load") { scope in
        // Every fetch gets a new JWT living 4 s (exp in whole seconds, as IdPs write it): with a
        // 1 s skew, 2-3 s of usable life each, so 12 s of load spans several lifetimes.
        let skew: TimeInterval = 1
        let issued = IssuedTokens()
        let answer = ProviderAnswer.generated {
          let now = Date()
          let exp = now.addingTimeInterval(4).rounded()
          issued.append(at: now, exp: exp)
          return .headers(["authorization": "Bearer \(Self.jwt(exp: exp))"])
        }
        let stack = try await Stack.start(scope: scope, answer: answer) { config in
          config.providers[0].ttl = "1m"
          config.providers[0].maxStale = "10m"
          config.providers[0].timeout = "500ms"
          config.providers[0].expirySkew = "\(Int(skew))s"
        }
        try await stack.augmenter.waitUntilReady()
        let load = try await H2Load.steady(
          url: "http://127.0.0.1:\(stack.envoy.listenerPort)/load", clients: 2, rps: 20, duration: .seconds(12), scope: scope)
        try load.expectAllSucceeded()

        let tokens = TestJWT.expectUnexpired(stack.upstream.requests, under: "/load", count: load.requests, skew: skew)
        #expect(tokens.count >= 4, "\(tokens.count) distinct tokens")

        // At the endpoint: each token replaced by exactly one fetch, at 75-90 % of its usable life
        // (exp minus the skew, from its fetch): before it expired, and never a burst.
        let fetches = issued.all
        #expect(fetches.count == stack.provider.requestCount)
        #expect(fetches.count >= 5, "\(fetches.count) fetches")
        for index in fetches.indices.dropLast() {
          let token = fetches[index]
          let usableUntil = token.exp.addingTimeInterval(-skew)
          let during = fetches[(index + 1)...].filter { $0.at < usableUntil }
          #expect(during.count == 1, "\(during.count) fetches during the usable life of token \(index + 1)")
          let fraction = fetches[index + 1].at.timeIntervalSince(token.at) / usableUntil.timeIntervalSince(token.at)
          #expect(fraction >= 0.7 && fraction < 0.97, "token \(index + 1) replaced at \(fraction) of its usable life")
        }
      }
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

/// What a test endpoint issued, in order: when each token was fetched and its `exp`.
private final class IssuedTokens: Sendable {
  private let list = Mutex<[(at: Date, exp: Date)]>([])
  func append(at: Date, exp: Date) { list.withLock { $0.append((at, exp)) } }
  var all: [(at: Date, exp: Date)] { list.withLock { $0 } }
}

extension Date {
  /// Whole seconds, as a JWT's NumericDate holds them.
  fileprivate func rounded() -> Date { Date(timeIntervalSince1970: timeIntervalSince1970.rounded(.down)) }
}
