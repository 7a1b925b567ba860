//===----------------------------------------------------------------------===//
// End-to-end tests: Admin port over HTTP/1.1 and h2c (curl).
//===----------------------------------------------------------------------===//

import Foundation
import Testing

extension EndToEnd {
  /// Issue 3: the admin port speaks HTTP/1.1 (Kubernetes httpGet probes) and h2c, checked with curl.
  @Suite("Admin port over HTTP/1.1 and h2c (curl)")
  struct AdminProtocols {
    /// curl's option and the `%{http_version}` it must report.
    static let protocols: [(option: String, version: String)] = [("--http1.1", "1.1"), ("--http2-prior-knowledge", "2")]

    private static func curl(_ augmenter: AugmenterProcess, _ path: String, _ option: String, scope: TestScope) async throws -> Curl.Result
    {
      try await Curl.get("http://127.0.0.1:\(augmenter.adminPort)\(path)", options: [option], scope: scope)
    }

    @Test("curl --http1.1 and --http2-prior-knowledge: /healthz 200; /readyz 503 before the provider answers, 200 after")
    func healthzAndReadyzOverBothProtocols() async throws {
      try await withTestScope { scope in
        let provider = try await TestProvider.start(scope: scope, answer: .raw(status: 503, "starting", contentType: "text/plain"))
        let augmenter = try await AugmenterProcess.start(
          scope: scope, config: AugmenterConfig(providers: [ProviderConfig(url: provider.url)]))
        try await provider.waitForRequests(atLeast: 1)

        for (option, version) in Self.protocols {
          let healthz = try await Self.curl(augmenter, "/healthz", option, scope: scope)
          #expect(healthz.exitCode == 0 && healthz.status == 200, "\(healthz)")
          #expect(healthz.httpVersion == version, "\(healthz)")

          let notReady = try await Self.curl(augmenter, "/readyz", option, scope: scope)
          #expect(notReady.exitCode == 0 && notReady.status == 503, "before the provider answered: \(notReady)")
          #expect(notReady.httpVersion == version, "\(notReady)")
          #expect(notReady.body.contains("sidecar"), "/readyz 503 names the provider: \(notReady)")
        }

        provider.setAnswer(.headers(["x-a": "ready"]))
        try await augmenter.waitUntilReady()
        for (option, version) in Self.protocols {
          let ready = try await Self.curl(augmenter, "/readyz", option, scope: scope)
          #expect(ready.exitCode == 0 && ready.status == 200, "after the provider answered: \(ready)")
          #expect(ready.httpVersion == version, "\(ready)")
          let healthz = try await Self.curl(augmenter, "/healthz", option, scope: scope)
          #expect(healthz.status == 200 && healthz.httpVersion == version, "\(healthz)")
        }
      }
    }
  }
}
