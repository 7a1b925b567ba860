//===----------------------------------------------------------------------===//
// Augmenter — the admin endpoints over HTTP/2 (h2c, or h2 with admin_tls).
//===----------------------------------------------------------------------===//

package import HTTP2
package import NIOCore
import NIOHTTP1

/// The admin endpoints over h2c.
package struct AdminHTTP2Responder: HTTP2RequestResponder {
  let state: AdminState

  /// A responder answering from `state`.
  package init(state: AdminState) {
    self.state = state
  }

  package func respond(to request: HTTP2Request, allocator: ByteBufferAllocator) -> HTTP2Response {
    let (status, contentType, body) = self.state.respond(method: HTTPMethod(rawValue: request.head.method), uri: request.head.path)
    return HTTP2Response(
      status: Int(status.code),
      headers: [HTTP2Header("content-type", contentType), HTTP2Header("cache-control", "no-store")],
      body: request.head.method == "HEAD" ? nil : allocator.buffer(string: body)
    )
  }

  package func respondToOversizedRequest(_ head: HTTP2RequestHead, allocator: ByteBufferAllocator) -> HTTP2Response {
    HTTP2Response(status: 413)
  }
}
