//===----------------------------------------------------------------------===//
// End-to-end harness: subject tokens as a Kubernetes API server issues them, signed by OpenSSL.
//===----------------------------------------------------------------------===//

import Foundation
import TestSupport

/// Stands in for the Kubernetes API server's TokenRequest: RS256 JWTs with `iss`, `sub`, `aud`,
/// `iat` and `exp`, signed by `openssl` with a key made for the test. The authorization server
/// verifies them with the public key, as a real IdP verifies service-account tokens against the
/// cluster's JWKS.
struct SubjectTokenIssuer: Sendable {
  /// The `iss` of every token (the authorization server checks it).
  static let issuer = "https://kubernetes.default.svc.test"

  let privateKey: String
  let publicKey: String
  /// The `aud` the authorization server expects.
  let audience: String
  private let directory: URL

  /// Makes an RSA key pair in `scope`.
  static func make(scope: TestScope, audience: String = "oauth2-server.test") async throws -> SubjectTokenIssuer {
    let key = scope.file("subject-issuer.key").path
    let pub = scope.file("subject-issuer.pub").path
    let made = try await Command.run("/usr/bin/openssl", ["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", key])
    guard made.succeeded else { throw TestFailure("openssl genpkey: \(made)") }
    let exported = try await Command.run("/usr/bin/openssl", ["pkey", "-in", key, "-pubout", "-out", pub])
    guard exported.succeeded else { throw TestFailure("openssl pkey: \(exported)") }
    return SubjectTokenIssuer(privateKey: key, publicKey: pub, audience: audience, directory: scope.directory)
  }

  /// A token for `subject` living `lifetime` seconds from now (negative: already expired),
  /// signed with `key` (default: the issuer's own).
  func token(subject: String, lifetime: TimeInterval = 3600, audience: String? = nil, key: String? = nil) async throws -> String {
    let now = Int(Date().timeIntervalSince1970)
    let header = #"{"alg":"RS256","kid":"test","typ":"JWT"}"#
    let claims =
      #"{"aud":["\#(audience ?? self.audience)"],"exp":\#(now + Int(lifetime)),"iat":\#(now),"iss":"\#(Self.issuer)","sub":"\#(subject)"}"#
    let signingInput = Self.base64URL(Data(header.utf8)) + "." + Self.base64URL(Data(claims.utf8))
    let input = directory.appendingPathComponent("subject-\(UUID().uuidString).in")
    let signature = directory.appendingPathComponent("subject-\(UUID().uuidString).sig")
    try Data(signingInput.utf8).write(to: input)
    let signed = try await Command.run(
      "/usr/bin/openssl", ["dgst", "-sha256", "-sign", key ?? privateKey, "-out", signature.path, input.path])
    guard signed.succeeded else { throw TestFailure("openssl dgst -sign: \(signed)") }
    return signingInput + "." + Self.base64URL(try Data(contentsOf: signature))
  }

  static func base64URL(_ data: Data) -> String {
    data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
      .replacingOccurrences(of: "=", with: "")
  }
}
