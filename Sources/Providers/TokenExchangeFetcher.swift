//===----------------------------------------------------------------------===//
// Augmenter — the `token_exchange` provider kind (RFC 8693).
//===----------------------------------------------------------------------===//

public import AsyncHTTPClient
public import AugmenterCore

/// Trades a subject token read from `subject_token_file` for an access token at `token_url`
/// (RFC 8693 §2.1) and turns it into the provider's header, with the same client
/// authentication and answer rules as the client credentials grant (``OAuth2TokenRequest``).
///
/// The subject token is typically the pod's projected service-account token, which the kubelet
/// rotates: it is read on every fetch, so the next token request carries the current one. How
/// cloud workload-identity federation works (GCP STS, Azure, AWS and most IdPs' STS endpoints).
/// The subject token is a credential: it never appears in an error.
public struct TokenExchangeFetcher: ProviderFetcher {
  /// RFC 8693 §2.1's `grant_type`.
  static let grantType = "urn:ietf:params:oauth:grant-type:token-exchange"

  private let client: HTTPClient
  private let userAgent: String

  /// Creates a fetcher over a client the caller owns (and shuts down).
  public init(client: HTTPClient, userAgent: String = "augmenter/\(AugmenterVersion.current)") {
    self.client = client
    self.userAgent = userAgent
  }

  public func fetch(_ provider: ProviderConfig) async throws -> FetchedAnswer {
    try await OAuth2TokenRequest.send(grant: try Self.grant(for: provider), for: provider, through: client, userAgent: userAgent)
  }

  /// The grant's parameters, with the subject token read now.
  static func grant(for provider: ProviderConfig) throws -> [(name: String, value: String)] {
    let subjectToken = try CredentialFile.read(provider.subjectTokenFile ?? "", key: "subject_token_file")
    var grant: [(name: String, value: String)] = [
      ("grant_type", grantType), ("subject_token", subjectToken), ("subject_token_type", provider.subjectTokenType),
    ]
    if let requested = provider.requestedTokenType { grant.append(("requested_token_type", requested)) }
    if let audience = provider.audience { grant.append(("audience", audience)) }
    if let scope = provider.scope { grant.append(("scope", scope)) }
    if let resource = provider.resource { grant.append(("resource", resource)) }
    return grant
  }
}
