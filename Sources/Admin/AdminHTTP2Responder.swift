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
    let method = HTTPMethod(rawValue: request.head.method)
    if self.state.isReload(method: method, uri: request.head.path) {
      // A response here is synchronous, and a reload must not run on the event loop: it is
      // started, and its result is in `/status` (HTTP/1.1 clients get it in the answer).
      let state = self.state
      Task { _ = await state.reloadResponse() }
      return HTTP2Response(
        status: 202,
        headers: [HTTP2Header("content-type", "application/json"), HTTP2Header("cache-control", "no-store")],
        body: allocator.buffer(string: #"{"accepted": true, "result": "see /status config.last_reload"}"# + "\n"))
    }
    let (status, contentType, body) = self.state.respond(method: method, uri: request.head.path)
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
