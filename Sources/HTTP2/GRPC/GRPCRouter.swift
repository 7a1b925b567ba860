//===----------------------------------------------------------------------===//
// Augmenter — gRPC over HTTP/2: routing by :path, unary calls, status trailers.
//===----------------------------------------------------------------------===//

public import NIOCore

/// A unary gRPC method: one request message in, one response message out, or a status.
public typealias GRPCUnaryHandler = @Sendable (ByteBuffer, GRPCCallContext) throws(GRPCStatus) -> [UInt8]

/// What a unary handler knows about the call besides its message.
public struct GRPCCallContext: Sendable {
  /// The connection's verified TLS client identity (`HTTP2Request.peerIdentity`), if any.
  public var peerIdentity: String?

  /// Creates a call context.
  public init(peerIdentity: String? = nil) {
    self.peerIdentity = peerIdentity
  }
}

/// A unary gRPC method that answers with a message already framed: exactly one complete
/// length-prefixed message (`GRPCMessageFramer.framed(_:)`), sent as it is. A handler that
/// keeps its encoded answers (ext_authz Check) shares one buffer across calls instead of
/// having a new one built and copied per call.
public typealias GRPCFramedUnaryHandler = @Sendable (ByteBuffer, GRPCCallContext) throws(GRPCStatus) -> ByteBuffer

/// A server-streaming gRPC method: one request message in, then messages over time through the
/// writer (on its event loop), ended by `GRPCServerStreamWriter.finish(_:)`.
public typealias GRPCServerStreamingHandler = @Sendable (ByteBuffer, GRPCServerStreamWriter) -> Void

/// Sends the messages of one server-streaming call.
public struct GRPCServerStreamWriter: Sendable {
  private let writer: HTTP2StreamWriter

  init(_ writer: HTTP2StreamWriter) {
    self.writer = writer
  }

  /// The event loop every call must be made on.
  public var eventLoop: any EventLoop { self.writer.eventLoop }

  /// Sends one message.
  public func send(_ message: [UInt8]) {
    var buffer = ByteBufferAllocator().buffer(capacity: message.count + 5)
    GRPCMessageFramer.write(message, into: &buffer)
    self.writer.write(buffer)
  }

  /// Ends the call with a status (trailers).
  public func finish(_ status: GRPCStatus) {
    self.writer.finish(trailers: GRPCRouter.statusTrailers(status))
  }

  /// Runs once when the call ends for any reason (finished, cancelled by the client, connection gone).
  public func onClose(_ handler: @escaping () -> Void) {
    self.writer.onClose(handler)
  }

  /// Runs when the server begins a graceful shutdown; the call should finish promptly.
  public func onGracefulShutdown(_ handler: @escaping () -> Void) {
    self.writer.onGracefulShutdown(handler)
  }
}

/// Answers requests on one HTTP/2 connection: known gRPC paths go to their handlers, gRPC calls
/// to unknown paths get UNIMPLEMENTED, and non-gRPC requests go to `fallback`.
public struct GRPCRouter: HTTP2RequestResponder {
  /// What serves one path. A struct rather than closures as dictionary values: reading a
  /// closure out of a dictionary wraps it in a reabstraction thunk, an allocation per lookup.
  private struct Route {
    var unary: GRPCUnaryHandler?
    var framed: GRPCFramedUnaryHandler?
    var streaming: GRPCServerStreamingHandler?
  }

  private let routes: [String: Route]
  private let maxMessageBytes: Int
  private let fallback: (any HTTP2RequestResponder)?

  /// Creates a router.
  /// - Parameters:
  ///   - methods: handlers by full path, e.g. `/grpc.health.v1.Health/Check`.
  ///   - framedMethods: handlers by full path whose replies come framed, e.g.
  ///     `/envoy.service.auth.v3.Authorization/Check`.
  ///   - maxMessageBytes: largest request message accepted (RESOURCE_EXHAUSTED above).
  ///   - streamingMethods: server-streaming handlers by full path.
  ///   - fallback: answers requests that are not gRPC; without it they get HTTP 415.
  public init(
    methods: [String: GRPCUnaryHandler],
    framedMethods: [String: GRPCFramedUnaryHandler] = [:],
    streamingMethods: [String: GRPCServerStreamingHandler] = [:],
    maxMessageBytes: Int,
    fallback: (any HTTP2RequestResponder)? = nil
  ) {
    var routes: [String: Route] = [:]
    for (path, handler) in methods { routes[path, default: Route()].unary = handler }
    for (path, handler) in framedMethods { routes[path, default: Route()].framed = handler }
    for (path, handler) in streamingMethods { routes[path, default: Route()].streaming = handler }
    self.routes = routes
    self.maxMessageBytes = maxMessageBytes
    self.fallback = fallback
  }

  public func respond(to request: HTTP2Request, allocator: ByteBufferAllocator) -> HTTP2Response {
    let head = request.head
    let isGRPC = Self.isGRPC(head)
    guard let route = self.routes[head.path] else {
      if isGRPC {
        return Self.trailersOnly(GRPCStatus(.unimplemented, "unknown method \(head.path)"))
      }
      if let fallback = self.fallback {
        return fallback.respond(to: request, allocator: allocator)
      }
      return Self.unsupportedMediaType(head, allocator: allocator)
    }
    guard isGRPC else {
      return Self.unsupportedMediaType(head, allocator: allocator)
    }
    guard head.method == "POST" else {
      return HTTP2Response(
        status: 405,
        headers: [HTTP2Header("allow", "POST"), HTTP2Header("content-type", "text/plain")],
        body: allocator.buffer(string: "gRPC methods are called with POST, not \(head.method)\n")
      )
    }
    let message: ByteBuffer
    do {
      message = try GRPCMessageDeframer.unaryMessage(from: request.body, maxMessageBytes: self.maxMessageBytes)
    } catch {
      return Self.trailersOnly(error)
    }
    if let streaming = route.streaming {
      return HTTP2Response(
        status: 200,
        headers: [HTTP2Header("content-type", "application/grpc")],
        stream: { writer in streaming(message, GRPCServerStreamWriter(writer)) }
      )
    }
    do {
      let body: ByteBuffer
      let call = GRPCCallContext(peerIdentity: request.peerIdentity)
      if let framed = route.framed {
        body = try framed(message, call)
        assert(body.readableBytes >= 5, "a framed handler must answer with a whole gRPC message")
      } else {
        let reply = try route.unary!(message, call)
        body = GRPCMessageFramer.framed(reply, allocator: allocator)
      }
      return HTTP2Response(
        status: 200,
        headers: Self.grpcResponseHeaders,
        body: body,
        trailers: Self.okTrailers
      )
    } catch {
      return Self.trailersOnly(error)
    }
  }

  public func respondToOversizedRequest(_ head: HTTP2RequestHead, allocator: ByteBufferAllocator)
    -> HTTP2Response
  {
    if Self.isGRPC(head) {
      return Self.trailersOnly(
        GRPCStatus(.resourceExhausted, "request exceeds the maximum message size of \(self.maxMessageBytes) bytes")
      )
    }
    if let fallback = self.fallback {
      return fallback.respondToOversizedRequest(head, allocator: allocator)
    }
    return HTTP2Response(
      status: 413,
      headers: [HTTP2Header("content-type", "text/plain")],
      body: allocator.buffer(string: "request body too large\n")
    )
  }

  /// The 5-byte gRPC message prefix: flag and declared length.
  public var earlyResponsePrefixBytes: Int { 5 }

  /// A gRPC request whose first message prefix already declares more than `maxMessageBytes` is
  /// refused at once (RESOURCE_EXHAUSTED, as when the body itself passes the limit) instead of
  /// after its body crossed the limit: the client stops sending what we would only discard.
  public func respondEarly(to head: HTTP2RequestHead, bodyPrefix: ByteBuffer, allocator: ByteBufferAllocator)
    -> HTTP2Response?
  {
    guard Self.isGRPC(head),
      let declared = bodyPrefix.getInteger(at: bodyPrefix.readerIndex + 1, as: UInt32.self),
      Int(declared) > self.maxMessageBytes
    else { return nil }
    return self.respondToOversizedRequest(head, allocator: allocator)
  }

  // Shared arrays: every successful call sends exactly these.
  private static let grpcResponseHeaders = [HTTP2Header("content-type", "application/grpc")]
  private static let okTrailers = [HTTP2Header("grpc-status", "0")]

  /// Trailers carrying a status.
  static func statusTrailers(_ status: GRPCStatus) -> [HTTP2Header] {
    var trailers = [HTTP2Header("grpc-status", String(status.code.rawValue))]
    if !status.message.isEmpty {
      trailers.append(HTTP2Header("grpc-message", GRPCMessageEncoding.percentEncode(status.message)))
    }
    return trailers
  }

  /// A trailers-only response: one HEADERS frame with END_STREAM carrying the status.
  public static func trailersOnly(_ status: GRPCStatus) -> HTTP2Response {
    HTTP2Response(status: 200, headers: Self.grpcResponseHeaders + Self.statusTrailers(status))
  }

  private static func isGRPC(_ head: HTTP2RequestHead) -> Bool {
    guard let contentType = head.firstValue("content-type") else { return false }
    return contentType.hasPrefix("application/grpc")
  }

  private static func unsupportedMediaType(_ head: HTTP2RequestHead, allocator: ByteBufferAllocator)
    -> HTTP2Response
  {
    let got = head.firstValue("content-type").map { "\"\($0)\"" } ?? "none"
    return HTTP2Response(
      status: 415,
      headers: [HTTP2Header("content-type", "text/plain")],
      body: allocator.buffer(string: "\(head.path) expects content-type application/grpc; got \(got)\n")
    )
  }
}
