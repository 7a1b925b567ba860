//===----------------------------------------------------------------------===//
// Which provider redirects are followed: same origin only, and only when configured.
//===----------------------------------------------------------------------===//

import AugmenterCore
import Providers
import Testing

@Suite struct ProviderRedirectTests {
  private let base = "http://provider.test:8081/headers?token=SECRET-QUERY"

  @Test func neverFollowsByDefault() {
    let decision = ProviderRedirect.decide(status: 302, location: "/other", requestURL: base, policy: .never)
    #expect(decision == .refuse("redirect (HTTP 302) not followed: follow_redirects is never"))
  }

  @Test(
    arguments: [
      ("/moved", "http://provider.test:8081/moved"),
      ("moved?x=1", "http://provider.test:8081/moved?x=1"),
      ("HTTP://PROVIDER.test:8081/a", "HTTP://PROVIDER.test:8081/a"),  // origins compare case-insensitively
      ("http://provider.test/a", nil),  // port 80, not 8081
      ("https://provider.test:8081/a", nil),  // another scheme
      ("http://evil.test:8081/headers", nil),
      ("//evil.test:8081/headers", nil),  // scheme-relative: another host
      ("http://provider.test:8081@evil.test/x", nil),  // userinfo trick: the host is evil.test
    ] as [(String, String?)])
  func sameOriginOnly(location: String, expected: String?) {
    let decision = ProviderRedirect.decide(status: 307, location: location, requestURL: base, policy: .sameOrigin)
    if let expected {
      #expect(decision == .follow(expected))
    } else {
      guard case .refuse(let reason) = decision else {
        Issue.record("\(location) was followed: \(decision)")
        return
      }
      #expect(reason.contains("another origin"))
      // Neither the Location's path and query nor the request's may appear in the reason.
      #expect(!reason.contains("/headers") && !reason.contains("SECRET") && !reason.contains("/x"))
    }
  }

  @Test func defaultPortsAreTheSameOrigin() {
    let decision = ProviderRedirect.decide(
      status: 301, location: "https://idp.test:443/t", requestURL: "https://idp.test/token", policy: .sameOrigin)
    #expect(decision == .follow("https://idp.test:443/t"))
  }

  @Test func missingLocationIsRefused() {
    let decision = ProviderRedirect.decide(status: 302, location: nil, requestURL: base, policy: .sameOrigin)
    #expect(decision == .refuse("redirect (HTTP 302) without a Location header"))
  }
}
