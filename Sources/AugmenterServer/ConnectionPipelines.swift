//===----------------------------------------------------------------------===//
// Augmenter — what each accepted connection's pipeline holds, per port and protocol.
//===----------------------------------------------------------------------===//

import Admin
import AugmenterCore
import AugmenterMetrics
import ExtAuthz
import HTTP1
import HTTP2
import Logging
import NIOCore
import NIOHTTP1
import TLS

/// Builds connection pipelines. Both ports detect HTTP/2 prior knowledge versus HTTP/1.1.
struct ConnectionPipelines: Sendable {
  var http2Settings: HTTP2Settings
  var checkResponder: any HTTP2RequestResponder
  var httpModeCheck: HTTPModeCheckService
  var adminState: AdminState
  var maxHTTP1BodyBytes: Int
  /// An HTTP/1.1 connection (or one not yet identified) silent this long is closed.
  var idleTimeout: TimeAmount
  /// Deadlines and the pipelining bound of HTTP/1.1 connections (both ports).
  var http1: HTTP1ConnectionSettings
  /// TLS on the check port (`tls`), if configured.
  var checkTLS: ListenerTLS?
  /// TLS on the admin port (`admin_tls`), if configured.
  var adminTLS: ListenerTLS?
  var logger: Logger
  /// Open connections by listener and protocol; `nil`: not counted.
  var connectionMetrics: ConnectionMetrics? = nil

  /// Check port: gRPC and HTTP-mode checks over h2c or h2, HTTP-mode checks over HTTP/1.1.
  func configureCheck(_ channel: any Channel) throws {
    let settings = self.http2Settings
    let responder = self.checkResponder
    let service = self.httpModeCheck
    let maxBody = self.maxHTTP1BodyBytes
    let http1 = self.http1
    let logger = self.logger
    try self.configure(channel, listener: .check, tls: self.checkTLS) { detected, peerIdentity, add in
      switch detected {
      case .http2:
        try add(HTTP2ServerConnectionHandler(settings: settings, responder: responder, peerIdentity: peerIdentity))
      case .http1:
        try HTTP1ServerPipeline.addHandlers(settings: http1, logger: logger, add: add)
        try add(HTTP1CheckHandler(service: service, maxBodyBytes: maxBody, peerIdentity: peerIdentity))
      }
    }
  }

  /// Admin port: the same endpoints over HTTP/1.1 and HTTP/2.
  func configureAdmin(_ channel: any Channel) throws {
    let state = self.adminState
    let http1 = self.http1
    let logger = self.logger
    // The admin port serves small GETs: few streams and small bodies, but the same idle and
    // control-frame limits as the check port (a flood there costs the same memory).
    let adminHTTP2 = HTTP2Settings(
      maxConcurrentStreams: 100,
      maxRequestBodyBytes: 64 * 1024,
      maxOutboundControlFrames: self.http2Settings.maxOutboundControlFrames,
      idleTimeout: self.http2Settings.idleTimeout
    )
    try self.configure(channel, listener: .admin, tls: self.adminTLS) { detected, _, add in
      switch detected {
      case .http2:
        try add(HTTP2ServerConnectionHandler(settings: adminHTTP2, responder: AdminHTTP2Responder(state: state)))
      case .http1:
        try HTTP1ServerPipeline.addHandlers(settings: http1, logger: logger, add: add)
        try add(AdminHandler(state: state))
      }
    }
  }

  /// Adds a handler where the detected protocol's handlers go (before the error logger).
  typealias AddHandler = (any ChannelHandler) throws -> Void

  /// The pipeline of a new connection: backpressure → idle timeout → [TLS] → protocol detection
  /// → error logger.
  ///
  /// Detection looks at the first (decrypted) bytes, so ALPN `h2` and `http/1.1` and clients
  /// without ALPN all end up on the right handlers. With TLS, detection runs after the handshake,
  /// so the verified client identity is known when the protocol handlers are made.
  ///
  /// Backpressure comes first, right after the socket: it withholds `read()` while the socket
  /// cannot take our output, and only there does that hold every read, including one the TLS
  /// handler or detection would ask for. HTTP/2 connections drop it with the idle timer (their
  /// flow control is nghttp2's).
  private func configure(
    _ channel: any Channel,
    listener: ConnectionMetrics.Listener,
    tls: ListenerTLS?,
    protocolHandlers: @escaping (DetectedProtocol, _ peerIdentity: String?, AddHandler) throws -> Void
  ) throws {
    let pipeline = channel.pipeline.syncOperations
    let backPressure = BackPressureHandler()
    let idle = IdleStateHandler(readTimeout: self.idleTimeout)
    let closer = IdleConnectionCloser(idleTimeout: self.idleTimeout, logger: self.logger)
    let errorLogger = ConnectionErrorLogger(logger: self.logger)
    let connectionMetrics = self.connectionMetrics
    try pipeline.addHandler(backPressure)
    try pipeline.addHandler(idle)
    try pipeline.addHandler(closer)
    let tlsHandler = tls?.makeHandler()
    if let tlsHandler {
      try pipeline.addHandler(tlsHandler)
    }
    try pipeline.addHandler(
      ProtocolDetectionHandler { detected, pipeline in
        if detected == .http2 {
          // HTTP/2 connections stay open while silent (Envoy pools them; Watch streams are
          // silent for long): the HTTP/2 handler's own idle timeout, which counts open streams
          // as activity (`http2.idle_timeout`), governs them, not a read timeout.
          pipeline.removeHandler(idle, promise: nil)
          pipeline.removeHandler(closer, promise: nil)
          pipeline.removeHandler(backPressure, promise: nil)
        }
        if let connectionMetrics {
          let closed = connectionMetrics.opened(listener, detected == .http2 ? .h2 : .http1)
          channel.closeFuture.whenComplete { _ in closed() }
        }
        try protocolHandlers(detected, tlsHandler?.handshakeResult?.peerIdentity) { handler in
          try pipeline.addHandler(handler, position: .before(errorLogger))
        }
      }
    )
    // Last: logs errors of every handler before it, TLS handshake failures included.
    try pipeline.addHandler(errorLogger)
  }
}

extension HTTP1ConnectionSettings {
  /// The settings of a validated configuration's `http1:` section.
  init(_ config: AugmenterConfig) {
    self.init(
      headTimeout: TimeAmount(config.http1RequestHeadTimeout),
      bodyTimeout: TimeAmount(config.http1RequestBodyTimeout),
      maxPipelinedRequests: config.http1MaxPipelinedRequests
    )
  }
}
