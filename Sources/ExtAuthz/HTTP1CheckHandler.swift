//===----------------------------------------------------------------------===//
// Augmenter — HTTP-mode checks over HTTP/1.1 (keep-alive and pipelining via NIOHTTP1).
//===----------------------------------------------------------------------===//

import AugmenterCore
import HTTP1
package import NIOCore
package import NIOHTTP1

/// Answers each HTTP/1.1 request on the check port as an HTTP-mode check. Requests arrive one at
/// a time (NIOHTTP1's pipelining handler holds back the next until this one is answered), so
/// pipelined requests are answered in order. Shutdown (`ChannelShouldQuiesceEvent`) is that
/// handler's too: it closes an idle connection, and answers a request in progress first, with
/// `connection: close`. Bodies are read and discarded, bounded by `maxBodyBytes`.
package final class HTTP1CheckHandler: ChannelInboundHandler {
  package typealias InboundIn = HTTPServerRequestPart
  package typealias OutboundOut = HTTPServerResponsePart

  private let service: HTTPModeCheckService
  private let maxBodyBytes: Int
  private var head: HTTPRequestHead?
  private var bodyBytes = 0
  private let peerIdentity: String?

  package init(service: HTTPModeCheckService, maxBodyBytes: Int, peerIdentity: String? = nil) {
    self.service = service
    self.maxBodyBytes = maxBodyBytes
    self.peerIdentity = peerIdentity
  }

  package func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    switch Self.unwrapInboundIn(data) {
    case .head(let head):
      self.head = head
      self.bodyBytes = 0
    case .body(let chunk):
      self.bodyBytes += chunk.readableBytes  // the check does not use the body; only bound it
    case .end:
      guard let head = self.head else { return }
      self.head = nil
      let answer: HTTPModeCheckService.Answer
      if self.bodyBytes > self.maxBodyBytes {
        answer = HTTPModeCheckService.tooLarge
      } else {
        answer = self.service.check(
          method: head.method.rawValue,
          path: head.uri,
          authority: head.headers.first(name: "host") ?? "",
          scheme: "http",
          header: { head.headers.first(name: $0) },
          headers: { head.headers.map { HeaderField(name: $0.name.lowercased(), value: $0.value) } },
          peerIdentity: self.peerIdentity
        )
      }
      self.write(answer, for: head, context: context)
    }
  }

  private func write(_ answer: HTTPModeCheckService.Answer, for request: HTTPRequestHead, context: ChannelHandlerContext) {
    var headers = HTTPHeaders()
    headers.reserveCapacity(answer.headers.count + 2)
    for field in answer.headers {
      headers.add(name: field.name, value: field.value)
    }
    let keepAlive = request.isKeepAlive && self.bodyBytes <= self.maxBodyBytes
    HTTP1Response.write(
      status: HTTPResponseStatus(statusCode: answer.status),
      headers: headers,
      body: answer.body,
      for: request,
      keepAlive: keepAlive,
      context: context
    )
  }
}

@available(*, unavailable)
extension HTTP1CheckHandler: Sendable {}
