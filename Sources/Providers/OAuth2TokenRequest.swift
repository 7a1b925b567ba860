//===----------------------------------------------------------------------===//
// Augmenter — one token request and its answer, for every grant Augmenter sends.
//===----------------------------------------------------------------------===//

import AsyncHTTPClient
import AugmenterCore
import Foundation
import NIOCore
import NIOHTTP1

/// POSTs a grant to the provider's `token_url` with its client authentication and turns the
/// answer into the provider's header (`authorization: Bearer <token>` by default), with
/// `expires_in` as the header's own expiry.
///
/// What differs between the OAuth 2.0 kinds is only the grant's parameters; the request, the
/// client authentication, the answer's rules and its errors are this one piece of code.
/// Redirects are not followed: a token request carries the client's credentials, and RFC 6749
/// §3.2 gives the endpoint no reason to send them elsewhere.
enum OAuth2TokenRequest {
  /// Sends `grant` (its `grant_type` and parameters, secrets included) for `provider`.
  static func send(
    grant: [(name: String, value: String)], for provider: ProviderConfig, through client: HTTPClient, userAgent: String
  ) async throws -> FetchedAnswer {
    let authentication = try OAuth2ClientAuthentication.make(for: provider)
    var request = HTTPClientRequest(url: provider.tokenURL ?? "")
    request.method = .POST
    request.headers.add(name: "accept", value: "application/json")
    request.headers.add(name: "user-agent", value: userAgent)
    request.headers.add(name: "content-type", value: "application/x-www-form-urlencoded")
    if let authorization = authentication.authorization {
      request.headers.add(name: "authorization", value: authorization)
    }
    request.body = .bytes(ByteBuffer(string: FormURLEncoding.body(grant + authentication.parameters)))
    let (response, body) = try await ProviderHTTPExchange.send(request, through: client, for: provider, subject: "token ")

    let answer = OAuth2TokenResponse.parse(
      status: Int(response.status.code), body: Array(body.readableBytesView), expectedTokenType: provider.tokenType,
      requestedTokenType: provider.kind == .tokenExchange ? provider.requestedTokenType : nil)
    switch answer {
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
}
