//===----------------------------------------------------------------------===//
// Augmenter — what each accepted connection's pipeline holds, per port and protocol.
//===----------------------------------------------------------------------===//

import HTTP2
import Logging
import NIOCore
import NIOHTTP1

/// Builds connection pipelines. Both ports detect HTTP/2 prior knowledge versus HTTP/1.1.
struct ConnectionPipelines: Sendable {
  /// Limits for HTTP/1.1 request heads: the request line counts toward them (→ 431).
  static let http1Limits: NIOHTTPDecoderLimitConfiguration = {
    var limits = NIOHTTPDecoderLimitConfiguration()
    limits.maxHeaderFieldSize = 16 * 1024
    limits.maxHeaderListSize = 64 * 1024
    limits.maxHeaderFieldCount = 256
    return limits
  }()

  var http2Settings: HTTP2Settings
  var checkResponder: any HTTP2RequestResponder
  var httpModeCheck: HTTPModeCheckService
  var adminState: AdminState
  var maxHTTP1BodyBytes: Int
  /// An HTTP/1.1 connection (or one not yet identified) silent this long is closed.
  var idleTimeout: TimeAmount
  var logger: Logger

  /// Check port: gRPC and HTTP-mode checks over h2c, HTTP-mode checks over HTTP/1.1.
  func configureCheck(_ channel: any Channel) throws {
    let settings = self.http2Settings
    let responder = self.checkResponder
    let service = self.httpModeCheck
    let maxBody = self.maxHTTP1BodyBytes
    try self.configure(channel) { detected, pipeline in
      switch detected {
      case .http2:
        try pipeline.addHandler(HTTP2ServerConnectionHandler(settings: settings, responder: responder))
      case .http1:
        try Self.addHTTP1Handlers(pipeline)
        try pipeline.addHandler(HTTP1CheckHandler(service: service, maxBodyBytes: maxBody))
      }
    }
  }

  /// Admin port: the same endpoints over HTTP/1.1 and h2c.
  func configureAdmin(_ channel: any Channel) throws {
    let state = self.adminState
    try self.configure(channel) { detected, pipeline in
      switch detected {
      case .http2:
        try pipeline.addHandler(
          HTTP2ServerConnectionHandler(settings: HTTP2Settings(maxConcurrentStreams: 100, maxRequestBodyBytes: 64 * 1024), responder: AdminHTTP2Responder(state: state))
        )
      case .http1:
        try Self.addHTTP1Handlers(pipeline)
        try pipeline.addHandler(AdminHandler(state: state))
      }
    }
  }

  private func configure(
    _ channel: any Channel,
    protocolHandlers: @escaping (DetectedProtocol, ChannelPipeline.SynchronousOperations) throws -> Void
  ) throws {
    let pipeline = channel.pipeline.syncOperations
    let idle = IdleStateHandler(readTimeout: self.idleTimeout)
    let closer = IdleConnectionCloser()
    let logger = self.logger
    try pipeline.addHandler(idle)
    try pipeline.addHandler(closer)
    try pipeline.addHandler(
      ProtocolDetectionHandler { detected, pipeline in
        if detected == .http2 {
          // HTTP/2 connections stay open while idle (Envoy pools them; Watch streams are
          // silent for long): nghttp2 and the peer's PINGs govern them, not a read timeout.
          pipeline.removeHandler(idle, promise: nil)
          pipeline.removeHandler(closer, promise: nil)
        }
        try protocolHandlers(detected, pipeline)
        try pipeline.addHandler(ConnectionErrorLogger(logger: logger))
      }
    )
  }

  private static func addHTTP1Handlers(_ pipeline: ChannelPipeline.SynchronousOperations) throws {
    try pipeline.addHandler(
      ByteToMessageHandler(
        HTTPRequestDecoder(leftOverBytesStrategy: .dropBytes, informationalResponseStrategy: .drop, limitConfiguration: Self.http1Limits)
      )
    )
    try pipeline.addHandler(HTTPResponseEncoder())
    try pipeline.addHandler(HTTPServerPipelineHandler())
    try pipeline.addHandler(HTTP1ErrorHandler())
  }
}

/// The admin endpoints over h2c.
struct AdminHTTP2Responder: HTTP2RequestResponder {
  let state: AdminState

  func respond(to request: HTTP2Request, allocator: ByteBufferAllocator) -> HTTP2Response {
    let (status, contentType, body) = self.state.respond(method: HTTPMethod(rawValue: request.head.method), uri: request.head.path)
    return HTTP2Response(
      status: Int(status.code),
      headers: [HTTP2Header("content-type", contentType), HTTP2Header("cache-control", "no-store")],
      body: request.head.method == "HEAD" ? nil : allocator.buffer(string: body)
    )
  }

  func respondToOversizedRequest(_ head: HTTP2RequestHead, allocator: ByteBufferAllocator) -> HTTP2Response {
    HTTP2Response(status: 413)
  }
}
