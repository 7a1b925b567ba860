//===----------------------------------------------------------------------===//
// Augmenter — how a client authenticates at a token endpoint (RFC 6749 §2.3.1, RFC 7523 §2.2).
//===----------------------------------------------------------------------===//

import AugmenterCore
import Foundation

/// What client authentication adds to a token request: a header, form parameters, or both.
///
/// Shared by every grant Augmenter sends (client credentials, token exchange): the method is a
/// property of the client at the server, not of the grant. The secret, key and assertion are
/// read or made fresh for each request and never appear in an error.
struct OAuth2ClientAuthentication {
  /// An `authorization` header value (client_secret_basic), or nil.
  var authorization: String?
  /// Form parameters to append to the grant's.
  var parameters: [(name: String, value: String)]

  /// The authentication `provider` is configured for, with its secret file or key read now.
  static func make(for provider: ProviderConfig) throws -> OAuth2ClientAuthentication {
    let clientID = provider.clientID ?? ""
    switch provider.clientAuth {
    case .clientSecretBasic:
      let secret = try CredentialFile.read(provider.clientSecretFile ?? "", key: "client_secret_file")
      // RFC 6749 §2.3.1: both are form-encoded before they are joined and base64-encoded.
      let credentials = "\(FormURLEncoding.encode(clientID)):\(FormURLEncoding.encode(secret))"
      return OAuth2ClientAuthentication(authorization: "Basic \(Data(credentials.utf8).base64EncodedString())", parameters: [])
    case .clientSecretPost:
      let secret = try CredentialFile.read(provider.clientSecretFile ?? "", key: "client_secret_file")
      return OAuth2ClientAuthentication(authorization: nil, parameters: [("client_id", clientID), ("client_secret", secret)])
    case .privateKeyJWT:
      // RFC 7523 §3: the audience is the token endpoint; the assertion is made fresh each time.
      let assertion = try JWTAssertionSigner.assertion(
        clientID: clientID, audience: provider.tokenURL ?? "", keyFile: provider.privateKeyFile ?? "",
        algorithm: provider.signingAlgorithm, keyID: provider.keyID)
      return OAuth2ClientAuthentication(
        authorization: nil,
        parameters: [
          ("client_id", clientID),
          ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
          ("client_assertion", assertion),
        ])
    }
  }
}
