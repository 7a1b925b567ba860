//===----------------------------------------------------------------------===//
// End-to-end tests: Check modes: one scenario table through Envoy in gRPC, HTTP/1.1 and h2c HTTP mode.
//===----------------------------------------------------------------------===//

import Foundation
import TestSupport
import Testing

/// How Envoy asks Augmenter for a decision: one bootstrap of `envoy/` per mode, started as shipped
/// (only its ports substituted).
enum CheckMode: String, CaseIterable, Sendable, CustomTestStringConvertible {
  /// gRPC ext_authz (`grpc_service`, h2c).
  case grpc
  /// HTTP ext_authz (`http_service`), Envoy's default HTTP/1.1 cluster.
  case httpOverHTTP1
  /// HTTP ext_authz (`http_service`), a prior-knowledge h2c cluster.
  case httpOverH2C

  var envoyFile: String {
    switch self {
    case .grpc: "ext-authz-grpc.yaml"
    case .httpOverHTTP1: "ext-authz-http.yaml"
    case .httpOverH2C: "ext-authz-http-h2c.yaml"
    }
  }

  var testDescription: String { "\(rawValue) (\(envoyFile))" }
}

/// One row of the check-scenario table: Augmenter's config, what the client sends, and what
/// must come out at the upstream or at the client. The same rows run in every ``CheckMode``.
struct CheckScenario: Sendable, CustomTestStringConvertible {
  enum Outcome: Sendable {
    /// 200 at the client; the upstream sees exactly these values per name (`[]`: absent).
    case passes(upstream: [String: [String]])
    /// The client gets 503 and the upstream sees nothing.
    case denied503
  }

  /// Short, for log directories.
  var id: String
  var name: String
  var provider: ProviderAnswer
  /// The provider never answers with usable headers: the test waits for a failed fetch, not readiness.
  var providerUsable: Bool
  var onUnavailable: String
  var staticHeaders: [String: String]
  var clientHeaders: [HeaderField]
  var outcome: Outcome

  var testDescription: String { name }

  static let providerToken = "Bearer provider-7f3a91"
  static let requestID = "check-modes-request-0c4e"

  static let table: [CheckScenario] = [
    CheckScenario(
      id: "allow",
      name: "allow: provider and static headers reach the upstream",
      provider: .headers(["authorization": providerToken, "x-tenant": "acme"]),
      providerUsable: true,
      onUnavailable: "deny",
      staticHeaders: ["x-static": "static-1"],
      clientHeaders: [HeaderField("x-client", "keep-me")],
      outcome: .passes(upstream: [
        "authorization": [providerToken], "x-tenant": ["acme"], "x-static": ["static-1"], "x-client": ["keep-me"],
      ])),
    CheckScenario(
      id: "unavailable-deny",
      name: "provider unavailable, on_unavailable deny: the client gets 503",
      provider: .raw(status: 503, "provider down", contentType: "text/plain"),
      providerUsable: false,
      onUnavailable: "deny",
      staticHeaders: ["x-static": "static-1"],
      clientHeaders: [HeaderField("x-request-id", requestID)],
      outcome: .denied503),
    CheckScenario(
      id: "unavailable-allow",
      name: "provider unavailable, on_unavailable allow: passes with the static headers only",
      provider: .raw(status: 503, "provider down", contentType: "text/plain"),
      providerUsable: false,
      onUnavailable: "allow",
      staticHeaders: ["x-static": "static-1"],
      clientHeaders: [HeaderField("x-client", "keep-me")],
      outcome: .passes(upstream: [
        "authorization": [], "x-tenant": [], "x-static": ["static-1"], "x-client": ["keep-me"],
      ])),
    CheckScenario(
      id: "client-sent-replaced",
      name: "client-sent values of injected headers are replaced: exactly one value at the upstream",
      provider: .headers(["authorization": providerToken, "x-tenant": "acme"]),
      providerUsable: true,
      onUnavailable: "deny",
      staticHeaders: ["x-static": "static-1"],
      clientHeaders: [
        HeaderField("authorization", "Bearer client-forged"),
        HeaderField("x-tenant", "forged-1"),
        HeaderField("x-tenant", "forged-2"),
        HeaderField("x-static", "forged-static"),
      ],
      outcome: .passes(upstream: [
        "authorization": [providerToken], "x-tenant": ["acme"], "x-static": ["static-1"],
      ])),
  ]
}

extension EndToEnd {
  /// Issue 3: the same table of check scenarios through the real Envoy in gRPC mode and in HTTP
  /// mode over an HTTP/1.1 and an h2c cluster. Swift Testing runs every (mode, scenario) pair.
  @Suite("Check modes: one scenario table through Envoy in gRPC, HTTP/1.1 and h2c HTTP mode")
  struct CheckModes {
    @Test("scenario through Envoy", arguments: CheckMode.allCases, CheckScenario.table)
    func scenario(mode: CheckMode, scenario: CheckScenario) async throws {
      try await withTestScope("checkModes-\(mode.rawValue)-\(scenario.id)") { scope in
        let stack = try await Stack.start(scope: scope, answer: scenario.provider, envoyConfig: mode.envoyFile) { config in
          config.onUnavailable = scenario.onUnavailable
          config.staticHeaders = scenario.staticHeaders
        }
        let (provider, augmenter, envoy) = (stack.provider, stack.augmenter, stack.envoy)

        if scenario.providerUsable {
          try await augmenter.waitUntilReady()
        } else {
          try await provider.waitForRequests(atLeast: 1)
          #expect(try await augmenter.readyz() == 503, "the provider never answered usefully: not ready")
        }

        let (response, received) = try await stack.send(scenario.clientHeaders, label: "check-\(mode.rawValue)")
        switch scenario.outcome {
        case .passes(let expected):
          #expect(response.status == 200, "\(mode): \(response)")
          let seen = try #require(received, "\(mode): the request did not reach the upstream: \(response)")
          for (name, values) in expected.sorted(by: { $0.key < $1.key }) {
            #expect(seen.values(name) == values, "\(mode): upstream header \(name); upstream got \(seen.headers)")
          }
          let forged = seen.headers.filter { $0.value.contains("forged") }
          #expect(forged.isEmpty, "\(mode): client-sent values of injected names reached the upstream: \(forged)")
        case .denied503:
          #expect(response.status == 503, "\(mode): \(response)")
          #expect(received == nil, "\(mode): a denied request reached the upstream: \(received.map { "\($0)" } ?? "")")
          // gRPC mode: Augmenter's denied_response (status, headers, body) is what the client
          // gets, so its problem+json arrives intact. HTTP mode: Augmenter answers the same 503
          // problem+json, but Envoy's HTTP ext_authz client reads any 5xx from the authorization
          // service as an *error* and answers the client itself with `status_on_error` (503 in
          // envoy/), dropping Augmenter's body. So the status is asserted in every mode and the
          // body only in gRPC mode (HTTP1EdgeCaseTests checks the HTTP-mode 503 body straight at
          // the check port).
          if mode == .grpc {
            #expect(response.header("content-type")?.hasPrefix("application/problem+json") == true, "\(response)")
            let problem = try #require(response.jsonObject(), "the 503 body is not a JSON object: \(response.text)")
            #expect(problem["status"] as? Int == 503, "\(response.text)")
            #expect((problem["title"] as? String)?.isEmpty == false, "\(response.text)")
            #expect(problem["instance"] as? String == CheckScenario.requestID, "\(response.text)")
          }
        }

        // The check really went the mode's way. Transport: Envoy's connection counters for the
        // augmenter cluster (HTTP/1.1 versus h2c). Service: the ext_authz filter's counters
        // (http.ingress.ext_authz.*); the unavailable-deny row tells the modes apart, since
        // Envoy counts a gRPC denied_response as `denied` but an HTTP-mode 5xx as `error`.
        let stats = try await EnvoyStats.fetch(
          adminPort: envoy.adminPort, filter: "^(cluster\\.augmenter\\.upstream_cx_http|http\\.ingress\\.ext_authz\\.)")
        let http1 = stats["cluster.augmenter.upstream_cx_http1_total"] ?? -1
        let http2 = stats["cluster.augmenter.upstream_cx_http2_total"] ?? -1
        switch mode {
        case .grpc, .httpOverH2C:
          #expect(http2 >= 1 && http1 == 0, "\(mode): expected h2c to Augmenter: http1 \(http1), http2 \(http2)")
        case .httpOverHTTP1:
          #expect(http1 >= 1 && http2 == 0, "\(mode): expected HTTP/1.1 to Augmenter: http1 \(http1), http2 \(http2)")
        }
        let authz = (
          ok: stats["http.ingress.ext_authz.ok"] ?? 0, denied: stats["http.ingress.ext_authz.denied"] ?? 0,
          error: stats["http.ingress.ext_authz.error"] ?? 0
        )
        switch (scenario.outcome, mode) {
        case (.passes, _):
          #expect(authz.ok >= 1 && authz.denied == 0 && authz.error == 0, "\(mode): ext_authz counters \(authz)")
        case (.denied503, .grpc):
          #expect(authz.denied >= 1 && authz.error == 0 && authz.ok == 0, "\(mode): ext_authz counters \(authz)")
        case (.denied503, .httpOverHTTP1), (.denied503, .httpOverH2C):
          #expect(authz.error >= 1 && authz.denied == 0 && authz.ok == 0, "\(mode): ext_authz counters \(authz)")
        }
      }
    }
  }
}

/// Envoy admin `/stats` counters and gauges (text format `name: value`).
enum EnvoyStats {
  static func fetch(adminPort: Int, filter: String) async throws -> [String: Int] {
    let query = filter.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? filter
    let response = try await HTTP1Client.get(port: adminPort, path: "/stats?filter=\(query)")
    guard response.status == 200 else { throw TestFailure("Envoy /stats: \(response)") }
    var stats: [String: Int] = [:]
    for line in response.text.split(separator: "\n") {
      let parts = line.split(separator: ":", maxSplits: 1)
      guard parts.count == 2, let value = Int(parts[1].trimmingCharacters(in: .whitespaces)) else { continue }
      stats[String(parts[0])] = value
    }
    return stats
  }
}
