//===----------------------------------------------------------------------===//
// Augmenter — answers malformed HTTP/1.1 with 400 (or 431 for oversized heads) and closes.
//===----------------------------------------------------------------------===//

package import NIOCore
package import NIOHTTP1

/// Sits after NIOHTTP1's decoder: a parse error becomes one response, then the connection closes
/// (the decoder cannot resynchronise a byte stream it failed to parse). The process and every
/// other connection are untouched.
package final class HTTP1ErrorHandler: ChannelDuplexHandler, RemovableChannelHandler {
  package typealias InboundIn = HTTPServerRequestPart
  package typealias InboundOut = HTTPServerRequestPart
  package typealias OutboundIn = HTTPServerResponsePart
  package typealias OutboundOut = HTTPServerResponsePart

  private var response = HTTP1ResponseProgress()

  package func errorCaught(context: ChannelHandlerContext, error: any Error) {
    guard let parserError = error as? HTTPParserError else {
      context.fireErrorCaught(error)
      return
    }
    if !self.response.inProgress {
      let (status, text): (HTTPResponseStatus, String) =
        switch parserError {
        case .headerOverflow:
          (.requestHeaderFieldsTooLarge, "request line or headers too large\n")
        default:
          (.badRequest, "malformed HTTP/1.1 request: \(parserError)\n")
        }
      let headers = HTTPHeaders([
        ("connection", "close"),
        ("content-type", "text/plain; charset=utf-8"),
        ("content-length", String(text.utf8.count)),
      ])
      context.write(Self.wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
      context.write(Self.wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: text)))), promise: nil)
      let channel = context.channel
      context.writeAndFlush(Self.wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
    }
    context.fireErrorCaught(error)
  }

  package func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
    self.response.observe(Self.unwrapOutboundIn(data))
    context.write(data, promise: promise)
  }
}

@available(*, unavailable)
extension HTTP1ErrorHandler: Sendable {}
