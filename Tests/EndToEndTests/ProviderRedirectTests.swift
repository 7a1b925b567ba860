//===----------------------------------------------------------------------===//
// End-to-end tests: Provider redirects.
//===----------------------------------------------------------------------===//

import Foundation
import TestSupport
import Testing

extension EndToEnd {
  /// A provider's 3xx: never followed by default, followed within its origin when configured,
  /// never to another origin (whose headers would be injected and which would get the token).
  @Suite("Provider redirects")
  struct ProviderRedirects {
    /// Waits until `/status` shows the provider with a last error containing `text`.
    private func waitForError(_ augmenter: AugmenterProcess, containing text: String) async throws -> ProviderStatus {
      try await eventually("/status to show a fetch error containing \"\(text)\"", timeout: .seconds(10)) {
        () async -> ProviderStatus? in
        guard let provider = try? await augmenter.status().providers.first,
          provider.lastError?.contains(text) == true
        else { return nil }
        return provider
      }
    }

    @Test(
      "a redirect to another origin is never followed, whatever follow_redirects says",
      arguments: [nil, "never", "same_origin"])
    func crossOriginRedirectIsRefused(follow: String?) async throws {
      try await withTestScope("crossOriginRedirect-\(follow ?? "default")") { scope in
        let other = try await TestProvider.start(scope: scope, answer: .headers(["x-a": "from-other-origin"]))
        let provider = try await TestProvider.start(scope: scope, answer: .redirect(to: other.url))
        var entry = ProviderConfig(url: provider.url)
        entry.followRedirects = follow
        entry.ttl = "2s"
        entry.timeout = "500ms"
        let augmenter = try await AugmenterProcess.start(scope: scope, config: AugmenterConfig(providers: [entry]))

        let expected =
          follow == "same_origin" ? "to another origin http://127.0.0.1:\(other.port) not followed" : "follow_redirects is never"
        let status = try await waitForError(augmenter, containing: expected)
        #expect(status.usable == false, "\(status)")
        #expect(try await augmenter.readyz() == 503)
        // The other origin was never asked: its headers cannot be injected, the token never left.
        #expect(other.requestCount == 0)
      }
    }

    @Test("follow_redirects: same_origin follows a redirect within the provider's origin; never does not")
    func sameOriginRedirect() async throws {
      try await withTestScope("sameOriginRedirect") { scope in
        var answer = ProviderAnswer.redirect(307, to: "/moved")
        answer.byPath["/moved"] = .headers(["x-a": "moved"])
        let provider = try await TestProvider.start(scope: scope, answer: answer)

        var following = ProviderConfig(name: "following", url: provider.url)
        following.followRedirects = "same_origin"
        var refusing = ProviderConfig(name: "refusing", url: provider.url)
        refusing.required = false
        let augmenter = try await AugmenterProcess.start(scope: scope, config: AugmenterConfig(providers: [following, refusing]))
        try await augmenter.waitUntilReady()

        let providers = try await eventually("both providers to have fetched", timeout: .seconds(10)) {
          () async -> [ProviderStatus]? in
          guard let list = try? await augmenter.status().providers, list.count == 2,
            list[1].lastError != nil
          else { return nil }
          return list
        }
        #expect(providers[0].usable == true && providers[0].headerCount == 1, "\(providers[0])")
        #expect(providers[1].usable == false, "\(providers[1])")
        #expect(providers[1].lastError?.contains("HTTP 307") == true, "\(providers[1])")
        #expect(provider.requests.contains { $0.uri == "/moved" })
      }
    }
  }
}
