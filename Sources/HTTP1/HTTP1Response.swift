//===----------------------------------------------------------------------===//
// Augmenter — writing one complete HTTP/1.1 response (shared by the check and admin ports).
//===----------------------------------------------------------------------===//

package import NIOCore
package import NIOHTTP1

/// Writes head, body and end for one request; sets content-length, and with `keepAlive: false`
/// adds `connection: close` and closes once the response has been written.
package enum HTTP1Response {
  /// Writes the whole response to `request` on `context`.
  package static func write(
    status: HTTPResponseStatus,
    headers: HTTPHeaders,
    body: String,
    for request: HTTPRequestHead,
    keepAlive: Bool,
    context: ChannelHandlerContext
  ) {
    var headers = headers
    headers.add(name: "content-length", value: String(body.utf8.count))
    if !keepAlive {
      headers.add(name: "connection", value: "close")
    }
    let head = HTTPResponseHead(version: request.version, status: status, headers: headers)
    context.write(NIOAny(HTTPServerResponsePart.head(head)), promise: nil)
    if !body.isEmpty, request.method != .HEAD {
      let buffer = context.channel.allocator.buffer(string: body)
      context.write(NIOAny(HTTPServerResponsePart.body(.byteBuffer(buffer))), promise: nil)
    }
    if keepAlive {
      context.writeAndFlush(NIOAny(HTTPServerResponsePart.end(nil)), promise: nil)
    } else {
      let channel = context.channel
      context.writeAndFlush(NIOAny(HTTPServerResponsePart.end(nil))).whenComplete { _ in
        channel.close(promise: nil)
      }
    }
  }
}
