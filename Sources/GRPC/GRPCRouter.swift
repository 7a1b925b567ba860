//===----------------------------------------------------------------------===//
// Augmenter — gRPC over HTTP/2: routing by :path, unary calls, status trailers.
//===----------------------------------------------------------------------===//

public import HTTP2
public import NIOCore

/// Answers requests on one HTTP/2 connection: known gRPC paths go to their handlers, gRPC calls
/// to unknown paths get UNIMPLEMENTED, and non-gRPC requests go to `fallback`.
public struct GRPCRouter: HTTP2RequestResponder {
  private let routes: [String: GRPCMethod]
  private let maxMessageBytes: Int
  private let fallback: (any HTTP2RequestResponder)?

  /// Creates a router.
  /// - Parameters:
  ///   - methods: what serves each full path, e.g. `/grpc.health.v1.Health/Check`.
  ///   - maxMessageBytes: largest request message accepted (RESOURCE_EXHAUSTED above).
  ///   - fallback: answers requests that are not gRPC; without it they get HTTP 415.
  public init(
    methods: [String: GRPCMethod],
    maxMessageBytes: Int,
    fallback: (any HTTP2RequestResponder)? = nil
  ) {
    self.routes = methods
    self.maxMessageBytes = maxMessageBytes
    self.fallback = fallback
  }

  /// The strings every call to this router carries: its paths and gRPC's own header values,
  /// for `HTTP2Settings.internedStrings`.
  public var internedStrings: [String] {
    self.routes.keys.sorted() + ["application/grpc", "grpc-accept-encoding", "identity,deflate,gzip"]
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
      return Self.methodNotAllowed(head, allocator: allocator)
    }
    let message: ByteBuffer
    do {
      message = try GRPCMessageDeframer.unaryMessage(from: request.body, maxMessageBytes: self.maxMessageBytes)
    } catch {
      return Self.trailersOnly(error)
    }
    let body: ByteBuffer
    do throws(GRPCStatus) {
      let call = GRPCCallContext(peerIdentity: request.peerIdentity)
      switch route {
      case .serverStreaming(let streaming):
        return HTTP2Response(
          status: 200,
          headers: [HTTP2Header("content-type", "application/grpc")],
          stream: { writer in streaming(message, GRPCServerStreamWriter(writer)) }
        )
      case .framedUnary(let framed):
        body = try framed(message, call)
        assert(body.readableBytes >= 5, "a framed handler must answer with a whole gRPC message")
      case .unary(let unary):
        body = GRPCMessageFramer.framed(try unary(message, call), allocator: allocator)
      case .bidirectionalStreaming:
        // Its requests are streamed (`streamingRequestPaths`), never buffered and sent here.
        throw GRPCStatus(.internal, "\(head.path) is a streaming method but its request was buffered")
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

  /// The paths of the bidirectional-streaming methods: their requests are streamed.
  public var streamingRequestPaths: [String] {
    self.routes.compactMap { path, method in
      if case .bidirectionalStreaming = method { return path }
      return nil
    }.sorted()
  }

  /// Starts a bidirectional-streaming call (or refuses it with a complete response).
  public func startStream(
    _ head: HTTP2RequestHead, peerIdentity: String?, writer: HTTP2StreamWriter, allocator: ByteBufferAllocator
  ) -> HTTP2StreamStart {
    guard case .bidirectionalStreaming(let makeHandler) = self.routes[head.path] else {
      return .respond(Self.trailersOnly(GRPCStatus(.unimplemented, "unknown method \(head.path)")))
    }
    guard Self.isGRPC(head) else {
      return .respond(Self.unsupportedMediaType(head, allocator: allocator))
    }
    guard head.method == "POST" else {
      return .respond(Self.methodNotAllowed(head, allocator: allocator))
    }
    let call = GRPCServerStream(
      writer: writer, context: GRPCCallContext(peerIdentity: peerIdentity), maxMessageBytes: self.maxMessageBytes,
      allocator: allocator, makeHandler: makeHandler)
    return .stream(status: 200, headers: Self.grpcResponseHeaders, receiver: call)
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

  private static func methodNotAllowed(_ head: HTTP2RequestHead, allocator: ByteBufferAllocator) -> HTTP2Response {
    HTTP2Response(
      status: 405,
      headers: [HTTP2Header("allow", "POST"), HTTP2Header("content-type", "text/plain")],
      body: allocator.buffer(string: "gRPC methods are called with POST, not \(head.method)\n")
    )
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
