//===----------------------------------------------------------------------===//
// Augmenter — one fetcher per provider kind, chosen by the provider's `kind`.
//===----------------------------------------------------------------------===//

public import AsyncHTTPClient
public import AugmenterCore

/// Hands each fetch to the fetcher of the provider's kind.
public struct ProviderFetcherByKind: ProviderFetcher {
  private let http: HTTPProviderFetcher
  private let file: FileProviderFetcher
  private let oauth2ClientCredentials: OAuth2ClientCredentialsFetcher
  private let tokenExchange: TokenExchangeFetcher

  /// Creates the fetchers of every kind over one HTTP client the caller owns.
  public init(client: HTTPClient) {
    self.http = HTTPProviderFetcher(client: client)
    self.file = FileProviderFetcher()
    self.oauth2ClientCredentials = OAuth2ClientCredentialsFetcher(client: client)
    self.tokenExchange = TokenExchangeFetcher(client: client)
  }

  public func fetch(_ provider: ProviderConfig) async throws -> FetchedAnswer {
    switch provider.kind {
    case .http: try await http.fetch(provider)
    case .file: try await file.fetch(provider)
    case .oauth2ClientCredentials: try await oauth2ClientCredentials.fetch(provider)
    case .tokenExchange: try await tokenExchange.fetch(provider)
    }
  }

  public func sourceSignature(_ provider: ProviderConfig) -> String? {
    provider.kind == .file ? file.sourceSignature(provider) : nil
  }
}
