//===----------------------------------------------------------------------===//
// Augmenter — the `oauth2_client_credentials` provider kind (RFC 6749 §4.4).
//===----------------------------------------------------------------------===//

public import AsyncHTTPClient
public import AugmenterCore

/// Asks `token_url` for an access token with the client credentials grant and turns it into
/// the provider's header (see ``OAuth2TokenRequest`` for the request, the client
/// authentication and the answer's rules).
///
/// The client secret is read from `client_secret_file` on every fetch, so a rotated secret is
/// used from the next refresh on; it and the token never appear in an error.
public struct OAuth2ClientCredentialsFetcher: ProviderFetcher {
  private let client: HTTPClient
  private let userAgent: String

  /// Creates a fetcher over a client the caller owns (and shuts down).
  public init(client: HTTPClient, userAgent: String = "augmenter/\(AugmenterVersion.current)") {
    self.client = client
    self.userAgent = userAgent
  }

  public func fetch(_ provider: ProviderConfig) async throws -> FetchedAnswer {
    var grant: [(name: String, value: String)] = [("grant_type", "client_credentials")]
    if let scope = provider.scope { grant.append(("scope", scope)) }
    if let audience = provider.audience { grant.append(("audience", audience)) }
    if let resource = provider.resource { grant.append(("resource", resource)) }
    return try await OAuth2TokenRequest.send(grant: grant, for: provider, through: client, userAgent: userAgent)
  }
}
