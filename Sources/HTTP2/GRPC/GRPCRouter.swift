//===----------------------------------------------------------------------===//
// Augmenter — gRPC over HTTP/2: routing by :path, unary calls, status trailers.
//===----------------------------------------------------------------------===//

public import NIOCore

/// A unary gRPC method: one request message in, one response message out, or a status.
public typealias GRPCUnaryHandler = @Sendable (ByteBuffer) throws(GRPCStatus) -> [UInt8]

/// Answers requests on one HTTP/2 connection: known gRPC paths go to their handlers, gRPC calls
/// to unknown paths get UNIMPLEMENTED, and non-gRPC requests go to `fallback`.
public struct GRPCRouter: HTTP2RequestResponder {
  private let methods: [String: GRPCUnaryHandler]
  private let maxMessageBytes: Int
  private let fallback: (any HTTP2RequestResponder)?

  /// Creates a router.
  /// - Parameters:
  ///   - methods: handlers by full path, e.g. `/envoy.service.auth.v3.Authorization/Check`.
  ///   - maxMessageBytes: largest request message accepted (RESOURCE_EXHAUSTED above).
  ///   - fallback: answers requests that are not gRPC; without it they get HTTP 415.
  public init(
    methods: [String: GRPCUnaryHandler],
    maxMessageBytes: Int,
    fallback: (any HTTP2RequestResponder)? = nil
  ) {
    self.methods = methods
    self.maxMessageBytes = maxMessageBytes
    self.fallback = fallback
  }

  public func respond(to request: HTTP2Request, allocator: ByteBufferAllocator) -> HTTP2Response {
    let head = request.head
    let isGRPC = Self.isGRPC(head)
    guard let method = self.methods[head.path] else {
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
    do {
      let message = try GRPCMessageDeframer.unaryMessage(from: request.body, maxMessageBytes: self.maxMessageBytes)
      let reply = try method(message)
      var body = allocator.buffer(capacity: reply.count + 5)
      GRPCMessageFramer.write(reply, into: &body)
      return HTTP2Response(
        status: 200,
        headers: [HTTP2Header("content-type", "application/grpc")],
        body: body,
        trailers: [HTTP2Header("grpc-status", "0")]
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

  /// A trailers-only response: one HEADERS frame with END_STREAM carrying the status.
  public static func trailersOnly(_ status: GRPCStatus) -> HTTP2Response {
    var headers = [
      HTTP2Header("content-type", "application/grpc"),
      HTTP2Header("grpc-status", String(status.code.rawValue)),
    ]
    if !status.message.isEmpty {
      headers.append(HTTP2Header("grpc-message", GRPCMessageEncoding.percentEncode(status.message)))
    }
    return HTTP2Response(status: 200, headers: headers)
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
