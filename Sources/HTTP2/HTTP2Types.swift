//===----------------------------------------------------------------------===//
// Augmenter — HTTP/2 request/response values shared by the nghttp2 session and its users.
//===----------------------------------------------------------------------===//

public import NIOCore

/// One header field. Names arrive lower-case from nghttp2 (HTTP/2 requires it).
public struct HTTP2Header: Sendable, Hashable {
  /// Lower-case field name (pseudo-headers keep their leading colon).
  public var name: String
  /// Field value, as received.
  public var value: String

  /// Creates a header field.
  public init(_ name: String, _ value: String) {
    self.name = name
    self.value = value
  }
}

/// The part of a request known once its HEADERS frame has been received.
public struct HTTP2RequestHead: Sendable {
  /// The HTTP/2 stream the request arrived on.
  public var streamID: Int32
  /// `:method`.
  public var method: String
  /// `:path`, including any query.
  public var path: String
  /// `:authority` (or `host` when the client sent that instead).
  public var authority: String
  /// `:scheme`.
  public var scheme: String
  /// Regular (non-pseudo) header fields in arrival order, duplicates kept.
  public var headers: [HTTP2Header]

  /// Creates a request head.
  public init(
    streamID: Int32,
    method: String,
    path: String,
    authority: String,
    scheme: String,
    headers: [HTTP2Header]
  ) {
    self.streamID = streamID
    self.method = method
    self.path = path
    self.authority = authority
    self.scheme = scheme
    self.headers = headers
  }

  /// The first value of a header, by lower-case name.
  public func firstValue(_ name: String) -> String? {
    // By index: debug builds allocate in the unspecialised generic iterator (the allocation
    // budget test counts a debug build).
    for index in self.headers.indices where self.headers[index].name == name {
      return self.headers[index].value
    }
    return nil
  }
}

/// A complete request: head plus the whole body (bounded by `HTTP2Settings.maxRequestBodyBytes`).
public struct HTTP2Request: Sendable {
  /// Method, path, authority and headers.
  public var head: HTTP2RequestHead
  /// Every DATA byte the client sent on the stream.
  public var body: ByteBuffer
  /// The connection's verified TLS client identity (see `HTTP2ServerConnectionHandler`), if any.
  public var peerIdentity: String?

  /// Creates a request.
  public init(head: HTTP2RequestHead, body: ByteBuffer, peerIdentity: String? = nil) {
    self.head = head
    self.body = body
    self.peerIdentity = peerIdentity
  }
}

/// A complete response. With `trailers`, the body is followed by a trailing HEADERS frame.
public struct HTTP2Response: Sendable {
  /// `:status`.
  public var status: Int
  /// Response header fields (no pseudo-headers).
  public var headers: [HTTP2Header]
  /// Response body; `nil` or empty sends no DATA frame.
  public var body: ByteBuffer?
  /// Trailer fields sent after the body (gRPC status lives here).
  public var trailers: [HTTP2Header]?
  /// A body produced over time (server streaming). When set, `body` and `trailers` are ignored:
  /// the closure gets a writer once the response HEADERS are queued, and ends the stream with
  /// `HTTP2StreamWriter.finish(trailers:)`.
  public var stream: (@Sendable (HTTP2StreamWriter) -> Void)?

  /// Creates a response.
  public init(
    status: Int,
    headers: [HTTP2Header] = [],
    body: ByteBuffer? = nil,
    trailers: [HTTP2Header]? = nil,
    stream: (@Sendable (HTTP2StreamWriter) -> Void)? = nil
  ) {
    self.status = status
    self.headers = headers
    self.body = body
    self.trailers = trailers
    self.stream = stream
  }
}

/// What the connection handler asks its owner for: one response per request.
///
/// Called on the connection's event loop, synchronously: implementations must not block.
public protocol HTTP2RequestResponder: Sendable {
  /// Answers a complete request.
  func respond(to request: HTTP2Request, allocator: ByteBufferAllocator) -> HTTP2Response
  /// Answers a request whose body passed `HTTP2Settings.maxRequestBodyBytes`; sent at once, the
  /// rest of the body is discarded.
  func respondToOversizedRequest(_ head: HTTP2RequestHead, allocator: ByteBufferAllocator)
    -> HTTP2Response
  /// How many leading body bytes `respondEarly(to:bodyPrefix:allocator:)` needs to decide; 0 (the
  /// default) means it is never asked.
  var earlyResponsePrefixBytes: Int { get }
  /// A chance to answer a request before its body is complete, asked once per request, when at
  /// least `earlyResponsePrefixBytes` body bytes arrived and END_STREAM has not. A response sent
  /// here is final: the rest of the body is discarded and the stream reset with NO_ERROR after
  /// it. `nil` (the default) waits for the whole body as usual.
  func respondEarly(to head: HTTP2RequestHead, bodyPrefix: ByteBuffer, allocator: ByteBufferAllocator)
    -> HTTP2Response?
  /// Request paths served as streams (bidirectional streaming): their bodies are handed over as
  /// they arrive instead of buffered, and `startStream` is asked instead of `respond`. Read once
  /// per connection; empty (the default) buffers every request.
  var streamingRequestPaths: [String] { get }
  /// Takes a request to one of `streamingRequestPaths` as soon as its HEADERS arrived. `writer`
  /// writes the response body and trailers if the stream is served.
  func startStream(_ head: HTTP2RequestHead, peerIdentity: String?, writer: HTTP2StreamWriter, allocator: ByteBufferAllocator)
    -> HTTP2StreamStart
}

extension HTTP2RequestResponder {
  /// Never asked to answer early.
  public var earlyResponsePrefixBytes: Int { 0 }

  /// Waits for the whole body.
  public func respondEarly(to head: HTTP2RequestHead, bodyPrefix: ByteBuffer, allocator: ByteBufferAllocator)
    -> HTTP2Response?
  {
    nil
  }

  /// No request is streamed.
  public var streamingRequestPaths: [String] { [] }

  /// Never asked (no `streamingRequestPaths`); refuses with 501 should it be.
  public func startStream(
    _ head: HTTP2RequestHead, peerIdentity: String?, writer: HTTP2StreamWriter, allocator: ByteBufferAllocator
  ) -> HTTP2StreamStart {
    .respond(HTTP2Response(status: 501, headers: [HTTP2Header("content-type", "text/plain")]))
  }
}

/// The server's HTTP/2 parameters, sent in our SETTINGS frame and enforced per stream and per
/// connection.
public struct HTTP2Settings: Sendable, Hashable {
  /// SETTINGS_MAX_CONCURRENT_STREAMS.
  public var maxConcurrentStreams: Int
  /// SETTINGS_INITIAL_WINDOW_SIZE (per-stream receive window).
  public var initialWindowSize: Int
  /// The connection-level receive window we grant on connect.
  public var connectionWindowSize: Int
  /// SETTINGS_MAX_HEADER_LIST_SIZE.
  public var maxHeaderListSize: Int
  /// Largest request body buffered per stream before `respondToOversizedRequest` is used.
  public var maxRequestBodyBytes: Int
  /// Largest total of request bytes held across all open streams of one connection: header
  /// lists (RFC 9113 §6.5.2 sizes) and bodies. nghttp2 reopens flow-control windows as soon as
  /// bytes are handed to us, so without this bound a peer could park `maxRequestBodyBytes` and
  /// `maxHeaderListSize` in each of `maxConcurrentStreams` unfinished streams.
  public var maxBufferedBytesPerConnection: Int
  /// SETTINGS and PING acknowledgements we may owe a peer that does not read them
  /// (`nghttp2_option_set_max_outbound_ack`). One more and the connection gets GOAWAY
  /// ENHANCE_YOUR_CALM and is closed.
  public var maxOutboundControlFrames: Int
  /// A connection with no open stream and no frame received for this long is closed with a
  /// graceful GOAWAY; zero or less: never.
  public var idleTimeout: TimeAmount
  /// Header names and values shared rather than allocated per request (paths, content types,
  /// the proxy's own headers): given by the application, since the transport knows none.
  public var internedStrings: HTTP2InternedStrings

  /// Creates settings; the defaults suit Envoy's ext_authz client.
  public init(
    maxConcurrentStreams: Int = 1024,
    initialWindowSize: Int = 1 << 20,
    connectionWindowSize: Int = 1 << 24,
    maxHeaderListSize: Int = 1 << 16,
    maxRequestBodyBytes: Int = (4 << 20) + 5,
    maxBufferedBytesPerConnection: Int = 8 << 20,
    maxOutboundControlFrames: Int = 1000,
    idleTimeout: TimeAmount = .hours(1),
    internedStrings: HTTP2InternedStrings = .none
  ) {
    self.maxConcurrentStreams = maxConcurrentStreams
    self.initialWindowSize = initialWindowSize
    self.connectionWindowSize = connectionWindowSize
    self.maxHeaderListSize = maxHeaderListSize
    self.maxRequestBodyBytes = maxRequestBodyBytes
    self.maxBufferedBytesPerConnection = maxBufferedBytesPerConnection
    self.maxOutboundControlFrames = maxOutboundControlFrames
    self.idleTimeout = idleTimeout
    self.internedStrings = internedStrings
  }
}

/// An error reported by libnghttp2, converted at one place (`NGHTTP2Session`).
public struct HTTP2Error: Error, Sendable, CustomStringConvertible {
  /// The nghttp2 error code (negative).
  public var code: Int
  /// The library's text for it, plus which call failed.
  public var message: String

  /// Creates an error.
  public init(code: Int, message: String) {
    self.code = code
    self.message = message
  }

  /// `<message> (nghttp2 error <code>)`.
  public var description: String { "\(self.message) (nghttp2 error \(self.code))" }
}
