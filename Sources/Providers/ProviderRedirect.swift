//===----------------------------------------------------------------------===//
// Augmenter — whether a provider's redirect answer is followed.
//===----------------------------------------------------------------------===//

public import AugmenterCore
import Foundation

/// Decides what a provider fetch does with a 3xx answer, under `providers[].follow_redirects`.
///
/// A provider's answer becomes headers on every request Envoy forwards, typically credentials.
/// Following a redirect to another origin would let whoever controls that origin (or whoever
/// can plant a `Location`) choose those headers, and would hand it the provider's bearer token,
/// so only same-origin redirects are ever followed, and only when configured.
public enum ProviderRedirect: Equatable, Sendable {
  /// Fetch this absolute URL next (same scheme, host and port as the request).
  case follow(String)
  /// Do not follow; the fetch fails with this reason (it names no URL path or query, which can
  /// carry secrets; the other origin's scheme, host and port at most).
  case refuse(String)

  /// The statuses that carry a `Location` to follow (RFC 9110 §15.4).
  public static let redirectStatuses: Set<Int> = [301, 302, 303, 307, 308]

  /// How many redirects one fetch follows at most.
  public static let maxHops = 5

  /// The decision for a `status` answer with `location` to a request for `requestURL`.
  public static func decide(
    status: Int,
    location: String?,
    requestURL: String,
    policy: RedirectPolicy
  ) -> ProviderRedirect {
    guard policy == .sameOrigin else {
      return .refuse("redirect (HTTP \(status)) not followed: follow_redirects is never")
    }
    guard let location, !location.isEmpty else {
      return .refuse("redirect (HTTP \(status)) without a Location header")
    }
    guard let base = URL(string: requestURL),
      let target = URL(string: location, relativeTo: base)?.absoluteURL
    else {
      return .refuse("redirect (HTTP \(status)) to an unreadable Location")
    }
    let from = Origin(base)
    let to = Origin(target)
    guard let from, let to, from == to else {
      let named = to.map { " \($0)" } ?? ""
      return .refuse("redirect (HTTP \(status)) to another origin\(named) not followed")
    }
    return .follow(target.absoluteString)
  }

  /// Scheme, host and effective port (RFC 6454), compared case-insensitively.
  struct Origin: Equatable, CustomStringConvertible {
    var scheme: String
    var host: String
    var port: Int

    init?(_ url: URL) {
      guard let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
        let host = url.host?.lowercased(), !host.isEmpty
      else { return nil }
      self.scheme = scheme
      self.host = host
      self.port = url.port ?? (scheme == "https" ? 443 : 80)
    }

    var description: String { "\(self.scheme)://\(self.host):\(self.port)" }
  }
}
