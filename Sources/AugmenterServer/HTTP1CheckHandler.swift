//===----------------------------------------------------------------------===//
// Augmenter — HTTP-mode checks over HTTP/1.1 (keep-alive and pipelining via NIOHTTP1).
//===----------------------------------------------------------------------===//

import AugmenterCore
import HTTP2
import NIOCore
import NIOHTTP1

/// Answers each HTTP/1.1 request on the check port as an HTTP-mode check. Requests arrive one at
/// a time (NIOHTTP1's pipelining handler holds back the next until this one is answered), so
/// pipelined requests are answered in order. Bodies are read and discarded, bounded by `maxBodyBytes`.
final class HTTP1CheckHandler: ChannelInboundHandler {
  typealias InboundIn = HTTPServerRequestPart
  typealias OutboundOut = HTTPServerResponsePart

  private let service: HTTPModeCheckService
  private let maxBodyBytes: Int
  private var head: HTTPRequestHead?
  private var bodyBytes = 0
  private var draining = false
  private let peerIdentity: String?

  init(service: HTTPModeCheckService, maxBodyBytes: Int, peerIdentity: String? = nil) {
    self.service = service
    self.maxBodyBytes = maxBodyBytes
    self.peerIdentity = peerIdentity
  }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
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

  func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
    guard event is HTTP2GracefulShutdownEvent else {
      context.fireUserInboundEventTriggered(event)
      return
    }
    // Shutdown: an idle keep-alive connection closes now; a request in progress is answered
    // first (with `connection: close`).
    self.draining = true
    if self.head == nil {
      context.close(promise: nil)
    }
  }

  private func write(_ answer: HTTPModeCheckService.Answer, for request: HTTPRequestHead, context: ChannelHandlerContext) {
    var headers = HTTPHeaders()
    headers.reserveCapacity(answer.headers.count + 2)
    for field in answer.headers {
      headers.add(name: field.name, value: field.value)
    }
    let keepAlive = request.isKeepAlive && self.bodyBytes <= self.maxBodyBytes && !self.draining
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
