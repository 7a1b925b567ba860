//===----------------------------------------------------------------------===//
// End-to-end harness: a real OAuth 2.0 authorization server (scripts/oauth2-server.py, Authlib).
//===----------------------------------------------------------------------===//

import Foundation
import TestSupport
import Testing

/// Authlib's authorization server on a free loopback port, issuing RS256 JWT access tokens for
/// the client credentials grant and, given a subject-token issuer, the token exchange grant. The
/// secret it expects is a file the test may rewrite.
final class OAuth2Server: Sendable {
  /// One token request the server saw.
  struct TokenRequest: Sendable {
    var time: Date
    var authMethod: String
    var parameters: [String: String]
    var status: Int
    var error: String?
  }

  /// One token the server issued.
  struct IssuedToken: Sendable {
    var time: Date
    var issuedAt: Date
    var expiresAt: Date
    /// The token's `sub`: the client, or for token exchange the subject token's `sub`.
    var subject: String?
    /// The token's `jti`, to find it among those the upstream received.
    var id: String?
  }

  let port: Int
  let clientID: String
  let process: ChildProcess
  /// The secret the server expects (rewrite it with ``setSecret(_:)``).
  let secretFile: URL

  var tokenURL: String { "http://127.0.0.1:\(port)/token" }

  private init(port: Int, clientID: String, process: ChildProcess, secretFile: URL) {
    self.port = port
    self.clientID = clientID
    self.process = process
    self.secretFile = secretFile
  }

  /// The venv's Python (scripts/lib.sh installs Authlib and Flask into it).
  static func python() throws -> String {
    let envoy = try TestEnvironment.envoyBinary()
    let besideEnvoy = URL(fileURLWithPath: envoy).deletingLastPathComponent().appendingPathComponent("python3").path
    let candidate =
      FileManager.default.isExecutableFile(atPath: besideEnvoy) ? besideEnvoy : Repository.url(".venv/bin/python3").path
    return try Executable.locate(
      variable: "OAUTH2_PYTHON", fallback: candidate,
      hint: "run scripts/test (scripts/lib.sh ensure_tools installs authlib and flask into .venv)")
  }

  /// Starts the server; tokens live `expiresIn` seconds. With `publicKey` (a PEM file and its
  /// type, RSA or EC) the client may also authenticate with private_key_jwt. With
  /// `subjectIssuer` it accepts token exchange of that issuer's subject tokens. `clockOffset`
  /// shifts the `iat` and `exp` of its tokens (its clock ahead, or behind when negative).
  static func start(
    scope: TestScope, clientID: String, secret: String, expiresIn: Int, publicKey: (path: String, type: String)? = nil,
    subjectIssuer: SubjectTokenIssuer? = nil, clockOffset: Int = 0
  ) async throws -> OAuth2Server {
    var extra = publicKey.map { ["--public-key", $0.path, "--public-key-type", $0.type] } ?? []
    if let subjectIssuer {
      extra += [
        "--subject-public-key", subjectIssuer.publicKey, "--subject-issuer", SubjectTokenIssuer.issuer,
        "--subject-audience", subjectIssuer.audience,
      ]
    }
    if clockOffset != 0 { extra += ["--clock-offset", String(clockOffset)] }
    let secretFile = scope.file("oauth2-server-secret")
    try Data(secret.utf8).write(to: secretFile)
    return try await PortInUse.retrying("oauth2-server") { name in
      let port = try FreePort.next()
      let process = try ChildProcess.spawn(
        name: name, executable: try python(),
        arguments: [
          Repository.url("scripts/oauth2-server.py").path, "--port", String(port), "--client-id", clientID,
          "--secret-file", secretFile.path, "--expires-in", String(expiresIn),
        ] + extra,
        scope: scope)
      let server = OAuth2Server(port: port, clientID: clientID, process: process, secretFile: secretFile)
      try await eventually("the OAuth 2.0 server to answer on 127.0.0.1:\(port)", timeout: .seconds(30)) {
        if let status = process.pollExit() {
          if PortInUse.appears(in: process.log()) { throw PortInUse(description: "\(name) \(status): address in use") }
          throw TestFailure("\(name) \(status) before it answered")
        }
        return try? await HTTP1Client.get(port: port, path: "/stats").status == 200 ? true : nil
      }
      return server
    }
  }

  /// Changes the secret the server expects.
  func setSecret(_ secret: String) throws {
    try Data(secret.utf8).write(to: secretFile, options: .atomic)
  }

  /// Every token request so far, and every token issued.
  func stats() async throws -> (requests: [TokenRequest], issued: [IssuedToken]) {
    let response = try await HTTP1Client.get(port: port, path: "/stats")
    guard let object = response.jsonObject(), let requests = object["token_requests"] as? [[String: Any]],
      let issued = object["issued"] as? [[String: Any]]
    else { throw TestFailure("/stats of the OAuth 2.0 server: \(response)") }
    return (
      requests.map {
        TokenRequest(
          time: Date(timeIntervalSince1970: ($0["time"] as? NSNumber)?.doubleValue ?? 0), authMethod: $0["auth_method"] as? String ?? "",
          parameters: $0["params"] as? [String: String] ?? [:], status: ($0["status"] as? NSNumber)?.intValue ?? 0,
          error: $0["error"] as? String)
      },
      issued.map {
        IssuedToken(
          time: Date(timeIntervalSince1970: ($0["time"] as? NSNumber)?.doubleValue ?? 0),
          issuedAt: Date(timeIntervalSince1970: ($0["iat"] as? NSNumber)?.doubleValue ?? 0),
          expiresAt: Date(timeIntervalSince1970: ($0["exp"] as? NSNumber)?.doubleValue ?? 0), subject: $0["sub"] as? String,
          id: $0["jti"] as? String)
      }
    )
  }
}

/// Reads the claims of a JWT without verifying it (the tests check timing, not trust).
enum TestJWT {
  /// The `exp` of a JWT or `Bearer <JWT>`, or nil.
  static func expiry(_ value: String) -> Date? {
    (claims(value)?["exp"] as? NSNumber).map { Date(timeIntervalSince1970: $0.doubleValue) }
  }

  /// Checks the requests an upstream received under `prefix` (a load run's): `count` of them,
  /// each with one `authorization` holding a JWT, received before its `exp` minus `skew`: no
  /// token was on the wire past the point Augmenter must stop serving it. Returns the tokens.
  static func expectUnexpired(
    _ requests: [ReceivedRequest], under prefix: String, count: Int, skew: TimeInterval,
    sourceLocation: SourceLocation = #_sourceLocation
  ) -> Set<String> {
    let received = requests.filter { $0.uri.hasPrefix(prefix) }
    #expect(received.count == count, sourceLocation: sourceLocation)
    var tokens = Set<String>()
    for request in received {
      let values = request.values("authorization")
      guard values.count == 1, let exp = expiry(values[0]) else {
        Issue.record("no single JWT bearer token in \(request.uri): \(values.count) authorization values", sourceLocation: sourceLocation)
        continue
      }
      tokens.insert(values[0])
      #expect(
        request.receivedAt < exp.addingTimeInterval(-skew),
        "a token reached the upstream \(request.receivedAt.timeIntervalSince(exp)) s relative to its exp", sourceLocation: sourceLocation)
    }
    return tokens
  }

  /// The payload of a JWT or `Bearer <JWT>`, or nil.
  static func claims(_ value: String) -> [String: Any]? {
    let token = value.hasPrefix("Bearer ") ? String(value.dropFirst(7)) : value
    let parts = token.split(separator: ".", omittingEmptySubsequences: false)
    guard parts.count == 3 else { return nil }
    var base64 = parts[1].replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
    while base64.count % 4 != 0 { base64 += "=" }
    guard let data = Data(base64Encoded: base64) else { return nil }
    return try? JSONSerialization.jsonObject(with: data) as? [String: Any]
  }
}
