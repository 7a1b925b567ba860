//===----------------------------------------------------------------------===//
// Augmenter — the HTTP/1.1 server handlers every connection gets before the application's.
//===----------------------------------------------------------------------===//

package import Logging
package import NIOCore
package import NIOHTTP1

/// The handlers that parse, bound and time an HTTP/1.1 connection, in order.
package enum HTTP1ServerPipeline {
  /// Limits for HTTP/1.1 request heads: the request line counts toward them (→ 431).
  private static let decoderLimits: NIOHTTPDecoderLimitConfiguration = {
    var limits = NIOHTTPDecoderLimitConfiguration()
    limits.maxHeaderFieldSize = 16 * 1024
    limits.maxHeaderListSize = 64 * 1024
    limits.maxHeaderFieldCount = 256
    return limits
  }()

  /// Adds, through `add`, the HTTP/1.1 handlers that go before the application's: input gate →
  /// decoder → encoder → pipelining bound → deadlines → NIO's pipelining (one request at a
  /// time, and the quiescing on `ChannelShouldQuiesceEvent`) → 400/431 on parse errors.
  ///
  /// The bound and the deadlines sit before `HTTPServerPipelineHandler` so they see requests as
  /// they are parsed, not as it releases them one by one; they sit after the encoder so they see
  /// response parts on their way out. The application's handler goes right after these, reading
  /// `HTTPServerRequestPart` and writing `HTTPServerResponsePart`.
  package static func addHandlers(
    settings: HTTP1ConnectionSettings,
    logger: Logger,
    add: (any ChannelHandler) throws -> Void
  ) throws {
    try add(HTTP1InputGate())
    try add(
      ByteToMessageHandler(
        HTTPRequestDecoder(
          leftOverBytesStrategy: .dropBytes, informationalResponseStrategy: .drop, limitConfiguration: Self.decoderLimits)
      )
    )
    try add(HTTPResponseEncoder())
    try add(HTTP1PipeliningLimitHandler(maxUnanswered: settings.maxPipelinedRequests))
    try add(HTTP1RequestDeadlineHandler(headTimeout: settings.headTimeout, bodyTimeout: settings.bodyTimeout, logger: logger))
    try add(HTTPServerPipelineHandler())
    try add(HTTP1ErrorHandler())
  }
}
