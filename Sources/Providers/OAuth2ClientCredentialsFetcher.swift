//===----------------------------------------------------------------------===//
// Augmenter — the `oauth2_client_credentials` provider kind (RFC 6749 §4.4).
//===----------------------------------------------------------------------===//

public import AsyncHTTPClient
public import AugmenterCore
import Foundation
import NIOCore
import NIOHTTP1

/// POSTs a client credentials grant to `token_url` and turns the access token into the
/// provider's header (`authorization: Bearer <token>` by default), with `expires_in` as the
/// header's own expiry.
///
/// The client secret is read from `client_secret_file` on every fetch, so a rotated secret is
/// used from the next refresh on; it and the token never appear in an error. Redirects are not
/// followed: a token request carries the client's credentials, and RFC 6749 §3.2 gives the
/// endpoint no reason to send them elsewhere.
public struct OAuth2ClientCredentialsFetcher: ProviderFetcher {
  private let client: HTTPClient
  private let userAgent: String

  /// Creates a fetcher over a client the caller owns (and shuts down).
  public init(client: HTTPClient, userAgent: String = "augmenter/\(AugmenterVersion.current)") {
    self.client = client
    self.userAgent = userAgent
  }

  public func fetch(_ provider: ProviderConfig) async throws -> FetchedAnswer {
    let clientID = provider.clientID ?? ""
    var parameters: [(name: String, value: String)] = [("grant_type", "client_credentials")]
    if let scope = provider.scope { parameters.append(("scope", scope)) }
    if let audience = provider.audience { parameters.append(("audience", audience)) }
    if let resource = provider.resource { parameters.append(("resource", resource)) }

    var request = HTTPClientRequest(url: provider.tokenURL ?? "")
    request.method = .POST
    request.headers.add(name: "accept", value: "application/json")
    request.headers.add(name: "user-agent", value: userAgent)
    request.headers.add(name: "content-type", value: "application/x-www-form-urlencoded")
    switch provider.clientAuth {
    case .clientSecretBasic:
      let secret = try Self.readSecret(provider.clientSecretFile ?? "")
      // RFC 6749 §2.3.1: both are form-encoded before they are joined and base64-encoded.
      let credentials = "\(FormURLEncoding.encode(clientID)):\(FormURLEncoding.encode(secret))"
      request.headers.add(name: "authorization", value: "Basic \(Data(credentials.utf8).base64EncodedString())")
    case .clientSecretPost:
      let secret = try Self.readSecret(provider.clientSecretFile ?? "")
      parameters.append(("client_id", clientID))
      parameters.append(("client_secret", secret))
    case .privateKeyJWT:
      // RFC 7523 §3: the audience is the token endpoint; the assertion is made fresh each time.
      let assertion = try JWTAssertionSigner.assertion(
        clientID: clientID, audience: provider.tokenURL ?? "", keyFile: provider.privateKeyFile ?? "",
        algorithm: provider.signingAlgorithm, keyID: provider.keyID)
      parameters.append(("client_id", clientID))
      parameters.append(("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"))
      parameters.append(("client_assertion", assertion))
    }
    request.body = .bytes(ByteBuffer(string: FormURLEncoding.body(parameters)))
    let (response, body) = try await ProviderHTTPExchange.send(request, through: client, for: provider, subject: "token ")

    switch OAuth2TokenResponse.parse(status: Int(response.status.code), body: Array(body.readableBytesView)) {
    case .success(let token):
      let value = provider.format.replacingOccurrences(of: "{}", with: token.accessToken)
      return FetchedAnswer(
        status: 200, body: HeaderAnswerBody.json([(provider.header, value)]), expiresIn: token.expiresIn)
    case .failure(.rejected(let reason)):
      throw ProviderAnswerError("token answer refused: \(reason)")
    case .failure(let problem):
      throw ProviderFetchError(description: problem.description)
    }
  }

  /// The secret, trimmed; errors name the file, never its content.
  static func readSecret(_ path: String) throws -> String {
    let secret: String
    do {
      secret = try String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
    } catch {
      throw ProviderFetchError(description: "cannot read client_secret_file \(path): \(error.localizedDescription)")
    }
    guard !secret.isEmpty, !secret.contains(where: { $0 == "\r" || $0 == "\n" }) else {
      throw ProviderFetchError(description: "client_secret_file \(path) is empty or holds more than one line")
    }
    return secret
  }
}
