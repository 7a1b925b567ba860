// Which upstream error responses the ext_proc front rewrites into problem+json (`error_responses`).

/// Upstream error responses to rewrite into RFC 7807 `application/problem+json` documents, on
/// the response path (ext_proc only: ext_authz never sees a response).
///
/// A response is rewritten when its status is in one of `statuses`, its request's path starts
/// with one of `pathPrefixes` (any path when there are none), and it is not one that must be
/// left alone: an answer to HEAD, a body already `application/problem+json` (Augmenter's own
/// local answers among them), or a gRPC answer (`application/grpc*`, whose errors live in
/// trailers).
public struct ErrorResponses: Sendable, Hashable {
  /// Status ranges to rewrite (each within 400...599); empty: nothing is rewritten.
  public var statuses: [ClosedRange<Int>]
  /// Request path prefixes (without query); empty: every path.
  public var pathPrefixes: [String]

  /// Creates the setting; the defaults rewrite nothing.
  public init(statuses: [ClosedRange<Int>] = [], pathPrefixes: [String] = []) {
    self.statuses = statuses
    self.pathPrefixes = pathPrefixes
  }

  /// Whether any response can be rewritten (and Envoy should send response headers).
  public var isEnabled: Bool { !self.statuses.isEmpty }

  /// Whether the response to `method path` with `status` and `contentType` is rewritten.
  public func rewrites(status: Int, contentType: String?, method: String, path: String) -> Bool {
    guard self.statuses.contains(where: { $0.contains(status) }), method != "HEAD" else { return false }
    if let contentType = contentType?.lowercased() {
      if contentType.hasPrefix(ProblemDocument.contentType) || contentType.hasPrefix("application/grpc") {
        return false
      }
    }
    guard !self.pathPrefixes.isEmpty else { return true }
    let pathOnly = path.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? path
    return self.pathPrefixes.contains { pathOnly.hasPrefix($0) }
  }
}
