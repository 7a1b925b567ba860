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
  /// How many bytes of the upstream body the document's `detail` quotes; 0: none, and the body
  /// is never buffered.
  public var quoteBodyBytes: Int

  /// The largest `quoteBodyBytes` accepted: a quote is for a human reading an error, and
  /// Envoy buffers the whole upstream body to give it to us.
  public static let maxQuoteBodyBytes = 16_384

  /// Creates the setting; the defaults rewrite nothing.
  public init(statuses: [ClosedRange<Int>] = [], pathPrefixes: [String] = [], quoteBodyBytes: Int = 0) {
    self.statuses = statuses
    self.pathPrefixes = pathPrefixes
    self.quoteBodyBytes = quoteBodyBytes
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

extension ErrorResponses {
  /// The `detail` of a rewritten upstream error: its status and reason phrase, then, when a
  /// quote is configured and the body is given, at most `quoteBodyBytes` of it, cut at a
  /// character boundary, trimmed, and marked with "…" when cut short.
  public func detail(status: Int, body: some Collection<UInt8> = EmptyCollection()) -> String {
    let reason = "The upstream service answered \(status) \(ProblemDocument.reasonPhrase(status))."
    guard self.quoteBodyBytes > 0, !body.isEmpty else { return reason }
    var quoted = Array(body.prefix(self.quoteBodyBytes))
    let cut = quoted.count < body.count
    if cut {
      // Drop a UTF-8 sequence the bound split, so the quote never ends in a replacement
      // character: find where the last sequence starts (continuation bytes are 10xxxxxx) and
      // compare the length its lead byte announces with the bytes kept.
      var start = quoted.count - 1
      while start > 0, quoted.count - start < 4, quoted[start] & 0xC0 == 0x80 { start -= 1 }
      let lead = quoted[start]
      let length = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1
      if quoted.count - start < length { quoted.removeSubrange(start...) }
    }
    let text = String(decoding: quoted, as: UTF8.self).trimmingWhitespace()
    guard !text.isEmpty else { return reason }
    return reason + " It said: " + text + (cut ? "…" : "")
  }
}

extension String {
  /// The text without leading and trailing spaces, tabs and line breaks (no Foundation needed).
  fileprivate func trimmingWhitespace() -> String {
    let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
    guard let first = self.firstIndex(where: { !isSpace($0) }), let last = self.lastIndex(where: { !isSpace($0) }) else {
      return ""
    }
    return String(self[first...last])
  }
}
