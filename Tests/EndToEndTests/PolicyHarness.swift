import Foundation
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
final class PolicyAugmenter: Sendable {
  let checkPort: Int
  let adminPort: Int
  let configURL: URL
  let process: ManagedProcess

  private init(checkPort: Int, adminPort: Int, configURL: URL, process: ManagedProcess) {
    self.checkPort = checkPort
    self.adminPort = adminPort
    self.configURL = configURL
    self.process = process
  }

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

  static func start(scope: TestScope, providerURL: String?, policy: String, name: String = "augmenter") async throws
    -> PolicyAugmenter
  {
    var attempt = 1
    while true {
      do {
        return try await startOnce(
          scope: scope, providerURL: providerURL, policy: policy, name: attempt == 1 ? name : "\(name)-attempt\(attempt)")
      } catch let error as PortInUse where attempt < 3 {
        print("\(name): \(error); retrying with other ports")
        attempt += 1
      }
    }
  }

  private static func startOnce(scope: TestScope, providerURL: String?, policy: String, name: String) async throws
    -> PolicyAugmenter
  {
    let binary = try TestEnvironment.augmenterBinary()
    let checkPort = try FreePort.next()
    let adminPort = try FreePort.next()
    let configURL = scope.file("\(name).yaml")
    try yaml(checkPort: checkPort, adminPort: adminPort, providerURL: providerURL, policy: policy)
      .write(to: configURL, atomically: true, encoding: .utf8)
    let process = try ManagedProcess.spawn(
      name: name, executable: binary, arguments: ["serve", "--config", configURL.path], scope: scope,
      killTimeout: .seconds(15))
    let augmenter = PolicyAugmenter(checkPort: checkPort, adminPort: adminPort, configURL: configURL, process: process)
    try await eventually("\(name) /healthz to answer 200", timeout: .seconds(30)) {
      if let status = process.pollExit() {
        if PortInUse.appears(in: process.log()) { throw PortInUse(description: "\(name) \(status): address in use") }
        throw HarnessError("\(name) \(status) before it was healthy")
      }
      return try? await HTTP1Client.get(port: adminPort, path: "/healthz").status == 200 ? true : nil
    }
    return augmenter
  }

  func waitUntilReady(timeout: Duration = .seconds(15)) async throws {
    try await eventually("augmenter /readyz to answer 200", timeout: timeout) {
      try await HTTP1Client.get(port: adminPort, path: "/readyz").status == 200 ? true : nil
    }
  }
}

/// Provider + echo upstream + Augmenter with a policy + Envoy in one mode.
struct PolicyStack: Sendable {
  let provider: TestProvider
  let upstream: EchoUpstream
  let augmenter: PolicyAugmenter
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

  /// Sends `GET path` (made unique with a suffix unless `exact`) through Envoy.
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
    let stats = try await HTTP1Client.get(port: envoy.adminPort, path: "/stats?filter=%5Ecluster%5C.augmenter%5C.upstream_cx_http")
    func value(_ name: String) -> Int {
      for line in stats.text.split(separator: "\n") where line.hasPrefix("cluster.augmenter.\(name): ") {
        return Int(line.split(separator: " ").last ?? "") ?? -1
      }
      return -1
    }
    return (value("upstream_cx_http1_total"), value("upstream_cx_http2_total"))
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
func policyValidate(_ yaml: String, scope: TestScope, name: String) async throws -> (ExitStatus?, String) {
  let file = scope.file("\(name).yaml")
  try yaml.write(to: file, atomically: true, encoding: .utf8)
  let process = try ManagedProcess.spawn(
    name: "validate-\(name)", executable: try TestEnvironment.augmenterBinary(), arguments: ["validate", file.path], scope: scope)
  let status = await process.waitForExit(timeout: .seconds(30))
  return (status, process.log())
}
