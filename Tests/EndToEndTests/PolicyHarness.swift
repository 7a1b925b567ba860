//===----------------------------------------------------------------------===//
// End-to-end harness: the policy scenarios, run through both ways Envoy calls Augmenter.
//===----------------------------------------------------------------------===//

import Foundation
import TestSupport
import Testing

/// The two ways Envoy calls Augmenter, each with its Envoy file in `envoy/`.
enum PolicyMode: String, CaseIterable, Sendable, CustomTestStringConvertible {
  case grpc
  /// HTTP mode, HTTP/1.1 from Envoy to Augmenter.
  case http
  /// HTTP mode, h2c from Envoy to Augmenter.
  case httpH2C = "http-h2c"

  /// The Envoy configuration the policy tests run this mode with.
  var envoyConfig: String {
    switch self {
    case .grpc: "ext-authz-grpc.yaml"
    case .http: "policy-http.yaml"
    case .httpH2C: "policy-http-h2c.yaml"
    }
  }

  var isHTTP: Bool { self != .grpc }

  /// What Augmenter's configuration needs for this mode (HTTP mode: Envoy's path_prefix).
  var augmenterYAML: String {
    isHTTP ? "http_mode: {path_prefix: /ext-authz}\n" : ""
  }

  var testDescription: String { rawValue }
}

/// Augmenter started with a policy the test writes as YAML (the README recipes), in front of a
/// provider named `sidecar` the test controls.
enum PolicyAugmenter {
  /// The file: listen/admin/log lines, the provider, then `policy` (which must not define
  /// `providers`, `listen`, `admin_listen` or `log_level`).
  static func yaml(checkPort: Int, adminPort: Int, providerURL: String?, policy: String) -> String {
    var text = """
      # written by the end-to-end policy tests
      listen: 127.0.0.1:\(checkPort)
      admin_listen: 127.0.0.1:\(adminPort)
      log_level: debug

      """
    if let providerURL {
      text += """
        providers:
          - name: sidecar
            url: \(providerURL)
            ttl: 2s
            timeout: 500ms

        """
    }
    return text + policy
  }

  /// Starts Augmenter with that file (``AugmenterProcess/start(scope:name:yaml:)``).
  static func start(scope: TestScope, providerURL: String?, policy: String, name: String = "augmenter") async throws
    -> AugmenterProcess
  {
    try await AugmenterProcess.start(scope: scope, name: name) {
      yaml(checkPort: $0, adminPort: $1, providerURL: providerURL, policy: policy)
    }
  }
}

/// Provider + echo upstream + Augmenter with a policy + Envoy in one mode.
struct PolicyStack: Sendable {
  let provider: TestProvider
  let upstream: EchoUpstream
  let augmenter: AugmenterProcess
  let envoy: EnvoyProcess
  let mode: PolicyMode

  /// The provider's headers in the tests where it is up.
  static let providerHeaders = ["authorization": "Bearer provider-token-3f9a"]

  /// Starts everything; waits for readiness unless the provider is meant to be down.
  static func start(
    scope: TestScope, mode: PolicyMode, policy: String, envoyConfig: String? = nil,
    providerAnswer: ProviderAnswer = .headers(PolicyStack.providerHeaders), waitForReady: Bool = true
  ) async throws -> PolicyStack {
    let provider = try await TestProvider.start(scope: scope, answer: providerAnswer)
    let upstream = try await EchoUpstream.start(scope: scope)
    let augmenter = try await PolicyAugmenter.start(scope: scope, providerURL: provider.url, policy: mode.augmenterYAML + policy)
    let envoy = try await EnvoyProcess.start(
      scope: scope, configFile: envoyConfig ?? mode.envoyConfig, augmenterPort: augmenter.checkPort, upstreamPort: upstream.port)
    if waitForReady { try await augmenter.waitUntilReady() }
    return PolicyStack(provider: provider, upstream: upstream, augmenter: augmenter, envoy: envoy, mode: mode)
  }

  /// Sends `GET path` through Envoy, made unique with an `n=` query parameter; returns the
  /// response, what the upstream received (nil when nothing reached it) and the URI sent.
  func send(_ path: String, headers: [HeaderField] = []) async throws -> (
    response: HTTPResponse, upstream: ReceivedRequest?, uri: String
  ) {
    let uri = "\(path)\(path.contains("?") ? "&" : "?")n=\(UUID().uuidString.prefix(8))"
    let response = try await envoy.send(path: uri, headers: headers)
    return (response, upstream.request(uri: uri), uri)
  }

  /// Envoy's connection counters for the `augmenter` cluster: (HTTP/1.1, HTTP/2) connections
  /// opened, which show the mode's protocol really carried the checks.
  func augmenterConnections() async throws -> (http1: Int, http2: Int) {
    let stats = try await EnvoyStats.fetch(adminPort: envoy.adminPort, filter: "^cluster\\.augmenter\\.upstream_cx_http")
    return (stats["cluster.augmenter.upstream_cx_http1_total"] ?? -1, stats["cluster.augmenter.upstream_cx_http2_total"] ?? -1)
  }

  /// The authority the client sends (HTTP1Client writes `host: 127.0.0.1:<listener port>`).
  var authority: String { "127.0.0.1:\(envoy.listenerPort)" }
}

extension HTTPResponse {
  /// The body as an RFC 7807 problem document, checked for the members Augmenter always sends.
  func policyProblem(status: Int, sourceLocation: SourceLocation = #_sourceLocation) throws -> [String: Any] {
    #expect(
      header("content-type") == "application/problem+json", "content-type of \(self)", sourceLocation: sourceLocation)
    let object = try #require(jsonObject(), "the body is not a JSON object: \(text)", sourceLocation: sourceLocation)
    #expect(object["status"] as? Int == status, "status member: \(text)", sourceLocation: sourceLocation)
    #expect((object["type"] as? String)?.isEmpty == false, "type member: \(text)", sourceLocation: sourceLocation)
    #expect((object["title"] as? String)?.isEmpty == false, "title member: \(text)", sourceLocation: sourceLocation)
    #expect((object["detail"] as? String)?.isEmpty == false, "detail member: \(text)", sourceLocation: sourceLocation)
    #expect((object["instance"] as? String)?.isEmpty == false, "instance (the request id): \(text)", sourceLocation: sourceLocation)
    return object
  }
}

/// Runs `augmenter validate` on `yaml`; returns the exit status and the output.
func policyValidate(_ yaml: String, scope: TestScope, name: String) async throws -> (ProcessExitStatus?, String) {
  let file = scope.file("\(name).yaml")
  try yaml.write(to: file, atomically: true, encoding: .utf8)
  let process = try ChildProcess.spawn(
    name: "validate-\(name)", executable: try TestEnvironment.augmenterBinary(), arguments: ["validate", file.path], scope: scope)
  let status = await process.waitForExit(timeout: .seconds(30))
  return (status, process.log())
}
