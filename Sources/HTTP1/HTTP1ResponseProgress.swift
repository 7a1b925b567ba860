//===----------------------------------------------------------------------===//
// Augmenter — whether an HTTP/1.1 response is being written on a connection.
//===----------------------------------------------------------------------===//

package import NIOHTTP1

/// Follows the response parts written on a connection: between a final (non-1xx) head and its
/// end, a handler that wants to answer on its own (a parse error's 400, a deadline's 408) must
/// not, since a second response would corrupt the first.
package struct HTTP1ResponseProgress {
  /// A response's head went out and its end has not yet.
  private(set) var inProgress = false

  /// Notes one outbound response part.
  mutating func observe(_ part: HTTPServerResponsePart) {
    switch part {
    case .head(let head) where head.status.code >= 200: self.inProgress = true
    case .end: self.inProgress = false
    default: break
    }
  }
}
