//===----------------------------------------------------------------------===//
// End-to-end harness: the augmenter binary with a written configuration, as a child process.
//===----------------------------------------------------------------------===//

import Foundation
import NIOSSL
import TestSupport

/// One provider entry of Augmenter's configuration.
struct ProviderConfig: Sendable {
  var name = "sidecar"
  var url: String
  var authority: String? = "sidecar.test"
  var ttl = "2s"
  var timeout = "500ms"
  var maxStale = "1s"
  /// A file holding a bearer token the provider fetch presents (re-read on every fetch).
  var tokenFile: String?
  /// `required: false` when set (the provider does not gate readiness).
  var required = true
  /// `follow_redirects` (never | same_origin); nil leaves the server's default (never).
  var followRedirects: String?
  /// `tls:` for an https provider (CA bundle, client certificate).
  var tls: ProviderTLSSettings?
  /// `expiry_skew`; nil leaves the server's default (30s).
  var expirySkew: String?
}

/// Augmenter's configuration as the tests write it (YAML, DESIGN.md "Stable interface").
struct AugmenterConfig: Sendable {
  var providers: [ProviderConfig]
  var staticHeaders: [String: String] = [:]
  var onUnavailable = "deny"
  var shutdownGracePeriod = "10s"
  var logLevel = "debug"
  /// `idle_timeout` (an HTTP/1.1 connection silent this long is closed); nil leaves the server's default.
  var idleTimeout: String?
  /// Headers rendered per request: name -> `{template: "..."}` (e.g. `{peer_identity}`).
  var templateHeaders: [String: String] = [:]
  /// `tls:` on the check port; nil: plaintext.
  var tls: TLSListenerSettings?
  /// `admin_tls:` on the admin port; nil: plaintext.
  var adminTLS: TLSListenerSettings?
  /// Further top-level YAML lines written as they are (limits and timeouts a test sets, e.g.
  /// `"max_connections: 8"` or `"http2: {idle_timeout: 1s}"`).
  var extraLines: [String] = []

  func yaml(checkPort: Int, adminPort: Int) -> String {
    var lines = [
      "# written by the end-to-end tests",
      "listen: 127.0.0.1:\(checkPort)",
      "admin_listen: 127.0.0.1:\(adminPort)",
      "log_level: \(logLevel)",
      "on_unavailable: \(onUnavailable)",
      "shutdown_grace_period: \(shutdownGracePeriod)",
    ]
    if let idleTimeout { lines.append("idle_timeout: \(idleTimeout)") }
    lines.append(contentsOf: extraLines)
    for (key, tls) in [("tls", tls), ("admin_tls", adminTLS)] {
      guard let tls else { continue }
      lines.append("\(key):")
      lines.append("  cert: \(quoted(tls.cert))")
      lines.append("  key: \(quoted(tls.key))")
      if let clientCA = tls.clientCA { lines.append("  client_ca: \(quoted(clientCA))") }
      if tls.requireClientCert { lines.append("  require_client_cert: true") }
      if let minVersion = tls.minVersion { lines.append("  min_version: \(quoted(minVersion))") }
      if let timeout = tls.handshakeTimeout { lines.append("  handshake_timeout: \(timeout)") }
      if let interval = tls.reloadInterval { lines.append("  reload_interval: \(interval)") }
    }
    if !staticHeaders.isEmpty || !templateHeaders.isEmpty {
      lines.append("headers:")
      for (name, value) in staticHeaders.sorted(by: { $0.key < $1.key }) {
        lines.append("  \(quoted(name)): \(quoted(value))")
      }
      for (name, template) in templateHeaders.sorted(by: { $0.key < $1.key }) {
        lines.append("  \(quoted(name)): {template: \(quoted(template))}")
      }
    }
    lines.append("providers:")
    for provider in providers {
      lines.append("  - name: \(quoted(provider.name))")
      lines.append("    url: \(quoted(provider.url))")
      if let authority = provider.authority { lines.append("    authority: \(quoted(authority))") }
      lines.append("    ttl: \(provider.ttl)")
      lines.append("    timeout: \(provider.timeout)")
      lines.append("    max_stale: \(provider.maxStale)")
      if let tokenFile = provider.tokenFile { lines.append("    token_file: \(quoted(tokenFile))") }
      if !provider.required { lines.append("    required: false") }
      if let follow = provider.followRedirects { lines.append("    follow_redirects: \(follow)") }
      if let skew = provider.expirySkew { lines.append("    expiry_skew: \(skew)") }
      if let tls = provider.tls {
        let entries = [("ca", tls.ca), ("cert", tls.cert), ("key", tls.key)].compactMap { key, value in
          value.map { "\(key): \(quoted($0))" }
        }
        lines.append("    tls: {\(entries.joined(separator: ", "))}")
      }
    }
    return lines.joined(separator: "\n") + "\n"
  }

  /// A YAML double-quoted scalar (JSON string syntax is valid YAML).
  private func quoted(_ text: String) -> String {
    let data = try! JSONSerialization.data(withJSONObject: [text], options: [.withoutEscapingSlashes])
    return String(decoding: data.dropFirst().dropLast(), as: UTF8.self)
  }
}

/// The `augmenter` binary under test: `augmenter serve --config FILE` on free loopback ports.
final class AugmenterProcess: Sendable {
  let checkPort: Int
  let adminPort: Int
  let process: ChildProcess
  /// How the harness talks to the admin port when it has `admin_tls` (nil: plaintext).
  let adminClientTLS: TLSConfiguration?

  private init(checkPort: Int, adminPort: Int, process: ChildProcess, adminClientTLS: TLSConfiguration?) {
    self.checkPort = checkPort
    self.adminPort = adminPort
    self.process = process
    self.adminClientTLS = adminClientTLS
  }

  /// Writes `config`, starts the binary and waits until `/healthz` answers 200. With `admin_tls`,
  /// `adminClientTLS` is how the harness reaches the admin port (CA, and a client certificate
  /// when the admin port requires one).
  /// `launcher` runs the binary through another command (e.g. `["prlimit", "--nofile=64:64"]`,
  /// which execs it in place: `process.pid` stays the binary's).
  static func start(
    scope: TestScope, config: AugmenterConfig, name: String = "augmenter", adminClientTLS: TLSConfiguration? = nil,
    launcher: [String] = []
  ) async throws -> AugmenterProcess {
    try await start(scope: scope, name: name, adminClientTLS: adminClientTLS, launcher: launcher) {
      config.yaml(checkPort: $0, adminPort: $1)
    }
  }

  /// Writes the file `yaml` renders for the chosen ports, starts the binary and waits until
  /// `/healthz` answers 200.
  ///
  /// Ports are picked free just before the start; if another process grabbed one in between (the
  /// binary exits complaining about the address), it retries with new ports.
  /// `place` writes the rendered file where the test wants it and returns the path given to
  /// `--config` (a symlink layout, say); by default the file is `<scope>/<name>.yaml`.
  static func start(
    scope: TestScope, name: String = "augmenter", adminClientTLS: TLSConfiguration? = nil, launcher: [String] = [],
    place: ((_ yaml: String) throws -> String)? = nil,
    yaml: (_ checkPort: Int, _ adminPort: Int) -> String
  ) async throws -> AugmenterProcess {
    try await PortInUse.retrying(name) {
      try await startOnce(scope: scope, name: $0, adminClientTLS: adminClientTLS, launcher: launcher, place: place, yaml: yaml)
    }
  }

  private static func startOnce(
    scope: TestScope, name: String, adminClientTLS: TLSConfiguration?, launcher: [String],
    place: ((_ yaml: String) throws -> String)?, yaml: (_ checkPort: Int, _ adminPort: Int) -> String
  ) async throws -> AugmenterProcess {
    let binary = try TestEnvironment.augmenterBinary()
    let checkPort = try FreePort.next()
    let adminPort = try FreePort.next()
    let rendered = yaml(checkPort, adminPort)
    let configPath: String
    if let place {
      configPath = try place(rendered)
    } else {
      let configURL = scope.file("\(name).yaml")
      try rendered.write(to: configURL, atomically: true, encoding: .utf8)
      configPath = configURL.path
    }
    let command = launcher + [binary, "serve", "--config", configPath]
    let process = try ChildProcess.spawn(
      name: name, executable: command[0], arguments: Array(command.dropFirst()), scope: scope,
      killTimeout: .seconds(15))
    let augmenter = AugmenterProcess(checkPort: checkPort, adminPort: adminPort, process: process, adminClientTLS: adminClientTLS)
    try await eventually("\(name) /healthz to answer 200 on 127.0.0.1:\(adminPort)", timeout: .seconds(30)) {
      if let status = process.pollExit() {
        if PortInUse.appears(in: process.log()) { throw PortInUse(description: "\(name) \(status): address in use") }
        throw TestFailure("\(name) \(status) before it was healthy")
      }
      return try? await augmenter.admin("/healthz").status == 200 ? true : nil
    }
    return augmenter
  }

  /// GET on the admin port.
  func admin(_ path: String) async throws -> HTTPResponse {
    try await HTTP1Client.get(port: adminPort, path: path, tls: adminClientTLS)
  }

  /// `/readyz`'s HTTP status.
  func readyz() async throws -> Int { try await admin("/readyz").status }

  /// Waits until `/readyz` answers 200.
  func waitUntilReady(timeout: Duration = .seconds(15)) async throws {
    try await eventually("augmenter /readyz to answer 200", timeout: timeout) {
      try await readyz() == 200 ? true : nil
    }
  }

  /// `/status`, raw and parsed.
  func status() async throws -> (response: HTTPResponse, providers: [ProviderStatus]) {
    let response = try await admin("/status")
    guard response.status == 200, let object = response.jsonObject() else {
      throw TestFailure("/status did not answer 200 with a JSON object: \(response)")
    }
    guard let providers = object["providers"] as? [[String: Any]] else {
      throw TestFailure("/status has no \"providers\" array: \(response.text)")
    }
    return (response, providers.map(ProviderStatus.init))
  }
}

/// A child exited because a port picked as free was taken in the meantime.
struct PortInUse: Error, CustomStringConvertible {
  var description: String

  static func appears(in log: String) -> Bool {
    let text = log.lowercased()
    return text.contains("address already in use") || text.contains("eaddrinuse")
  }

  /// Runs `start` with the attempt's name (`name`, then `name-attempt2`, `name-attempt3`),
  /// starting again while it fails with ``PortInUse``, at most three attempts in all.
  static func retrying<T>(_ name: String, _ start: (_ attemptName: String) async throws -> T) async throws -> T {
    var attempt = 1
    while true {
      do {
        return try await start(attempt == 1 ? name : "\(name)-attempt\(attempt)")
      } catch let error as PortInUse where attempt < 3 {
        print("\(name): \(error); retrying with other ports")
        attempt += 1
      }
    }
  }
}

/// One entry of `/status`'s `providers` (only the fields tests read).
struct ProviderStatus: Sendable {
  var name: String?
  var consecutiveFailures: Int?
  var lastError: String?
  /// `last_rejection` re-serialized as text (it may be a string or an object), nil when null/absent.
  var lastRejection: String?
  var digest: String?
  var usable: Bool?
  var headerCount: Int?
  /// `expires_at`: when the current values expire by their own account (ISO 8601), nil if none.
  var expiresAt: String?

  init(_ object: [String: Any]) {
    name = object["name"] as? String
    consecutiveFailures = object["consecutive_failures"] as? Int
    lastError = ProviderStatus.text(object["last_error"])
    lastRejection = ProviderStatus.text(object["last_rejection"])
    digest = ProviderStatus.text(object["digest"])
    usable = object["usable"] as? Bool
    headerCount = object["header_count"] as? Int
    expiresAt = ProviderStatus.text(object["expires_at"])
  }

  private static func text(_ value: Any?) -> String? {
    switch value {
    case nil, is NSNull: return nil
    case let string as String: return string.isEmpty ? nil : string
    case let other?:
      if JSONSerialization.isValidJSONObject(other),
        let data = try? JSONSerialization.data(withJSONObject: other, options: [.sortedKeys])
      {
        return String(decoding: data, as: UTF8.self)
      }
      return "\(other)"
    }
  }
}
