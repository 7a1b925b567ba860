//===----------------------------------------------------------------------===//
// Augmenter — fetching a provider's answer with AsyncHTTPClient.
//===----------------------------------------------------------------------===//

public import AsyncHTTPClient
public import AugmenterCore
import Foundation
import NIOCore
import NIOHTTP1

/// GETs a provider URL (http or https) with its authority, timeout and bearer token file,
/// following redirects only as `follow_redirects` allows (`ProviderRedirect`).
public struct HTTPProviderFetcher: ProviderFetcher {
  /// A fetch that failed before there was an answer (the provider kinds share one error type).
  public typealias FetchError = ProviderFetchError

  private let client: HTTPClient
  private let userAgent: String

  /// Creates a fetcher over a client the caller owns (and shuts down).
  public init(client: HTTPClient, userAgent: String = "augmenter/\(AugmenterVersion.current)") {
    self.client = client
    self.userAgent = userAgent
  }

  public func fetch(_ provider: ProviderConfig) async throws -> FetchedAnswer {
    // The client follows no redirect itself (see `AugmenterService`): each hop is decided here,
    // so that only same-origin redirects are followed, and only when configured.
    var url = provider.url
    for _ in 0...ProviderRedirect.maxHops {
      let (answer, location) = try await self.fetchOnce(provider, url: url)
      guard ProviderRedirect.redirectStatuses.contains(answer.status) else { return answer }
      switch ProviderRedirect.decide(
        status: answer.status, location: location, requestURL: url, policy: provider.followRedirects)
      {
      case .follow(let next):
        url = next
      case .refuse(let reason):
        throw FetchError(description: reason, fetchResult: .httpError)
      }
    }
    throw FetchError(description: "more than \(ProviderRedirect.maxHops) redirects", fetchResult: .httpError)
  }

  /// One GET of `url` with the provider's settings: the answer and its `Location`, if any.
  private func fetchOnce(_ provider: ProviderConfig, url: String) async throws -> (FetchedAnswer, String?) {
    var request = HTTPClientRequest(url: url)
    request.method = .GET
    request.headers.add(name: "accept", value: "application/json")
    request.headers.add(name: "user-agent", value: self.userAgent)
    if let authority = provider.authority {
      request.headers.replaceOrAdd(name: "host", value: authority)
    }
    if let tokenFile = provider.tokenFile {
      // Re-read on every fetch: Kubernetes rotates projected service-account tokens in place.
      let token = try CredentialFile.read(tokenFile, key: "token_file")
      request.headers.replaceOrAdd(name: "authorization", value: "Bearer \(token)")
    }
    let (response, body) = try await ProviderHTTPExchange.send(request, through: self.client, for: provider)
    let cacheControl = response.headers["cache-control"]
    let cacheLifetime = HTTPCacheLifetime.lifetime(
      cacheControl: cacheControl.isEmpty ? nil : cacheControl.joined(separator: ","),
      expires: response.headers.first(name: "expires"),
      date: response.headers.first(name: "date"),
      now: Date())
    let answer = FetchedAnswer(
      status: Int(response.status.code), body: Array(body.readableBytesView), cacheLifetime: cacheLifetime)
    return (answer, response.headers.first(name: "location"))
  }
}
