//===----------------------------------------------------------------------===//
// Augmenter — one libnghttp2 server session, driven sans-I/O.
//
// Bytes go in with `receive` (nghttp2_session_mem_recv) and frames come out with `drainOutput`
// (nghttp2_session_mem_send): the library never touches a socket, the NIO handler owns the I/O.
// Every nghttp2 call and callback lives in this file; no C type leaves it.
//===----------------------------------------------------------------------===//

internal import CNghttp2
import NIOCore

/// What the session saw while consuming input, for the connection handler to act on.
enum NGHTTP2SessionEvent {
  /// A request whose END_STREAM arrived.
  case request(HTTP2Request)
  /// A request whose body passed the limit; it must be answered now.
  case oversized(HTTP2RequestHead)
  /// An unfinished request whose body reached `earlyResponsePrefixBytes`: the responder may
  /// answer it now (`discardRequestBody` then `submit`), or wait for the rest as usual.
  case bodyStarted(HTTP2RequestHead, ByteBuffer)
  /// The peer acknowledged the PING that followed our shutdown notice: it has seen the notice,
  /// so the final GOAWAY can go out without refusing a stream it sent meanwhile.
  case shutdownPingAcknowledged
  /// The HEADERS of a request to one of the streaming paths: it must be started (or refused) now.
  case streamOpened(HTTP2RequestHead)
  /// Body bytes of a streaming request (a slice of the read buffer when possible).
  case streamData(Int32, ByteBuffer)
  /// The client ended a streaming request (END_STREAM).
  case streamEnded(Int32)
}

/// Owns one `nghttp2_session` (server side) and the per-stream request/response state.
final class NGHTTP2Session {
  /// Request state for one stream, from HEADERS to close.
  final class Stream {
    var method = ""
    var path = ""
    var authority = ""
    var scheme = ""
    var host: String?
    var headers: [HTTP2Header] = []
    var headerBytes = 0
    var headComplete = false
    var requestEnded = false
    /// Answered before the request ended (oversized or answered early): body bytes still
    /// arriving are dropped.
    var bodyDiscarded = false
    /// `bodyStarted` was reported already (once per request).
    var offeredEarly = false
    /// Request body so far: usually a zero-copy slice of the read buffer it arrived in.
    var body: ByteBuffer?
    /// `body` is a slice of the read buffer being parsed (it pins that whole buffer).
    var bodyIsSlice = false
    // Response side, consumed by the data read callback.
    var responseBody: ByteBuffer?
    var responseTrailers: [HTTP2Header]?
    /// A server-streaming body: the data source defers instead of ending while no trailers are set.
    var streaming = false
    /// A streaming request: its body goes out as `streamData` events instead of into `body`.
    var streamsRequest = false
    /// Body bytes the streaming request's receiver reported holding (counted in `bufferedBytes`).
    var heldByReceiver = 0
    /// Streaming response bytes appended but not yet taken by nghttp2 (counted in `bufferedBytes`).
    var responseQueued = 0
    /// The streaming response was reset for queueing too much: nothing more is appended.
    var responseRefused = false
    /// A response was submitted: a reset from the client after it is not rapid reset.
    var answered = false

    init() {
      self.headers.reserveCapacity(12)
    }

    /// Back to the state of a new stream, keeping the header array's storage when no request
    /// holds it any more (the common case: a request is answered before its stream closes).
    func reset() {
      self.method = ""
      self.path = ""
      self.authority = ""
      self.scheme = ""
      self.host = nil
      self.headers.removeAll(keepingCapacity: true)
      self.headerBytes = 0
      self.headComplete = false
      self.requestEnded = false
      self.bodyDiscarded = false
      self.offeredEarly = false
      self.body = nil
      self.bodyIsSlice = false
      self.responseBody = nil
      self.responseTrailers = nil
      self.streaming = false
      self.streamsRequest = false
      self.heldByReceiver = 0
      self.responseQueued = 0
      self.responseRefused = false
      self.answered = false
    }

    func makeHead(streamID: Int32) -> HTTP2RequestHead {
      HTTP2RequestHead(
        streamID: streamID,
        method: self.method,
        path: self.path,
        authority: self.authority.isEmpty ? (self.host ?? "") : self.authority,
        scheme: self.scheme,
        headers: self.headers
      )
    }
  }

  private let session: OpaquePointer
  private let settings: HTTP2Settings
  private let allocator: ByteBufferAllocator
  private var streams: [Int32: Stream] = [:]
  /// The stream the last callback was about: nghttp2 calls back for one stream several times in
  /// a row (a header each, then the frame), so this spares most dictionary lookups.
  private var recentStreamID: Int32 = 0
  private var recentStream: Stream?
  /// Streams closed and reset, reused by the next requests instead of allocating new ones.
  private var spareStreams: [Stream] = []
  /// How many closed streams are kept for reuse.
  private static let maxSpareStreams = 32
  /// Events of the last `receive`, read by the handler, then cleared (capacity kept).
  private(set) var events: [NGHTTP2SessionEvent] = []
  /// The buffer being fed to `mem_recv` right now and its base address: DATA chunks inside it are
  /// sliced rather than copied.
  private var input: ByteBuffer?
  private var inputBase: UnsafeRawPointer?
  private let emptyBody: ByteBuffer
  private var closedStreamingStreams: [Int32] = []
  /// Bytes held across all streams (bounded by `maxBufferedBytesPerConnection`): request header
  /// lists and bodies, what streaming requests' receivers hold, and streaming response bytes
  /// waiting for the peer's flow-control window.
  private var bufferedBytes = 0
  /// Paths whose requests are streamed (`HTTP2RequestResponder.streamingRequestPaths`).
  private let streamingRequestPaths: [String]
  /// Resets of unanswered streams the client may still make (rapid reset).
  private var resetBudget = StreamResetBudget(now: NIODeadline.now().uptimeNanoseconds)
  /// The client spent `resetBudget` during the current `receive`.
  private var resetFlooded = false
  /// Our graceful GOAWAY went out already (a second shutdown request does nothing).
  private var goawaySubmitted = false
  /// The PING sent after the shutdown notice, not yet acknowledged.
  private var shutdownPingOutstanding = false
  /// Body bytes an unfinished request needs before `bodyStarted` is reported; 0: never.
  private let earlyResponsePrefixBytes: Int

  /// Creates a server session and queues our SETTINGS and connection window update.
  /// - Parameters:
  ///   - earlyResponsePrefixBytes: see `HTTP2RequestResponder.earlyResponsePrefixBytes`.
  ///   - streamingRequestPaths: see `HTTP2RequestResponder.streamingRequestPaths`.
  init(
    settings: HTTP2Settings, allocator: ByteBufferAllocator, earlyResponsePrefixBytes: Int = 0,
    streamingRequestPaths: [String] = []
  ) throws(HTTP2Error) {
    self.settings = settings
    self.allocator = allocator
    self.emptyBody = allocator.buffer(capacity: 0)
    self.earlyResponsePrefixBytes = earlyResponsePrefixBytes
    self.streamingRequestPaths = streamingRequestPaths

    var callbacks: OpaquePointer?
    try Self.check(nghttp2_session_callbacks_new(&callbacks), "nghttp2_session_callbacks_new")
    defer { nghttp2_session_callbacks_del(callbacks) }
    nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks, onBeginHeaders)
    nghttp2_session_callbacks_set_on_header_callback(callbacks, onHeader)
    nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, onFrameRecv)
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, onDataChunkRecv)
    nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, onStreamClose)
    nghttp2_session_callbacks_set_on_frame_send_callback(callbacks, onFrameSend)

    var option: OpaquePointer?
    try Self.check(nghttp2_option_new(&option), "nghttp2_option_new")
    defer { nghttp2_option_del(option) }
    // Every limit nghttp2 1.52 (Debian's, with the 2023-2024 security backports) offers is set
    // here on purpose, so that none of them changes under us with a library update.
    //
    // SETTINGS and PING acknowledgements queued for a peer that doesn't read them. nghttp2
    // counts them until they are taken by `mem_send`; since we stop taking output while the
    // channel is not writable (and stop reading too), this is what trips a flood within one
    // read: `mem_recv` fails with NGHTTP2_ERR_FLOODED and the handler sends GOAWAY
    // ENHANCE_YOUR_CALM. Envoy's `max_outbound_control_frames` plays the same role.
    nghttp2_option_set_max_outbound_ack(option, max(1, settings.maxOutboundControlFrames))
    // Entries in one SETTINGS frame (nghttp2's default): each costs a little memory and work.
    nghttp2_option_set_max_settings(option, 32)
    // Rapid reset (CVE-2023-44487) is limited by `StreamResetBudget`, which counts only streams
    // reset before they were answered; nghttp2's limit counts every reset, and Envoy's ext_proc
    // filter resets every stream it is done with. Its bucket is made too large to matter.
    nghttp2_option_set_stream_reset_rate_limit(option, UInt64(1) << 62, UInt64(1) << 32)
    // CONTINUATION flood (CVE-2024-27316 class): at most 8 CONTINUATION frames after a HEADERS;
    // with SETTINGS_MAX_HEADER_LIST_SIZE this bounds the work and memory of one header block.
    nghttp2_option_set_max_continuations(option, 8)
    // Our HPACK encoder's dynamic table: 4 KiB per connection (nghttp2's default, the size a
    // peer allows unless it says otherwise); a larger table would only help repeated response
    // headers, and is memory held for every pooled connection.
    nghttp2_option_set_max_deflate_dynamic_table_size(option, 4096)
    // Largest response header block we produce: 64 KiB (nghttp2's default), the same bound we
    // put on request header lists.
    nghttp2_option_set_max_send_header_block_length(option, 64 << 10)
    // Not set: `no_closed_streams` (closed streams kept for the RFC 7540 priority tree are
    // already bounded by SETTINGS_MAX_CONCURRENT_STREAMS) and `max_reserved_remote_streams`
    // (clients cannot push).

    var raw: OpaquePointer?
    // `self` is not fully initialised yet, so the user-data pointer is set right after.
    try Self.check(
      nghttp2_session_server_new2(&raw, callbacks, nil, option),
      "nghttp2_session_server_new2"
    )
    guard let raw else {
      throw HTTP2Error(code: -1, message: "nghttp2_session_server_new2 returned no session")
    }
    self.session = raw
    // Unretained: the nghttp2 session never outlives `self` (freed in deinit), and callbacks run
    // only inside calls made through `self`.
    nghttp2_session_set_user_data(raw, Unmanaged.passUnretained(self).toOpaque())

    var entries = [
      nghttp2_settings_entry(
        settings_id: Int32(NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS.rawValue),
        value: UInt32(clamping: settings.maxConcurrentStreams)
      ),
      nghttp2_settings_entry(
        settings_id: Int32(NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE.rawValue),
        value: UInt32(clamping: settings.initialWindowSize)
      ),
      nghttp2_settings_entry(
        settings_id: Int32(NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE.rawValue),
        value: UInt32(clamping: settings.maxHeaderListSize)
      ),
    ]
    try Self.check(
      nghttp2_submit_settings(raw, UInt8(NGHTTP2_FLAG_NONE.rawValue), &entries, entries.count),
      "nghttp2_submit_settings"
    )
    if settings.connectionWindowSize > 65_535 {
      try Self.check(
        nghttp2_session_set_local_window_size(
          raw,
          UInt8(NGHTTP2_FLAG_NONE.rawValue),
          0,
          Int32(clamping: settings.connectionWindowSize)
        ),
        "nghttp2_session_set_local_window_size"
      )
    }
  }

  deinit {
    nghttp2_session_del(self.session)
  }

  // MARK: - Driving the session

  /// Feeds received bytes; returns the requests that completed (or overflowed) meanwhile.
  /// The requests that completed (or overflowed) are then in `events`, until `clearEvents()`.
  func receive(_ buffer: ByteBuffer) throws(HTTP2Error) {
    self.input = buffer
    defer {
      self.input = nil
      self.inputBase = nil
    }
    let result = buffer.withUnsafeReadableBytes { bytes -> Int in
      guard let base = bytes.baseAddress else { return 0 }
      self.inputBase = base
      return nghttp2_session_mem_recv(
        self.session,
        base.assumingMemoryBound(to: UInt8.self),
        bytes.count
      )
    }
    if self.resetFlooded {
      self.events.removeAll()
      throw HTTP2Error(
        code: HTTP2Error.resetFloodCode,
        message:
          "more than \(StreamResetBudget.burst) streams (then \(StreamResetBudget.perSecond) per second) reset by the client before they were answered (rapid reset)"
      )
    }
    if result < 0 {
      self.events.removeAll()
      throw Self.error(Int32(truncatingIfNeeded: result), "nghttp2_session_mem_recv")
    }
  }

  /// Forgets the events of the last `receive` (keeping the array's storage).
  func clearEvents() {
    self.events.removeAll(keepingCapacity: true)
  }

  /// Appends the frames nghttp2 has ready to `buffer`, until it has none or `buffer` holds at
  /// least `limit` bytes (one frame may take it past `limit`; DATA frames are at most 16 KiB).
  /// - Returns: true if it stopped at `limit` (more may be ready), false if nghttp2 had no more.
  func drainOutput(into buffer: inout ByteBuffer, limit: Int = .max) throws(HTTP2Error) -> Bool {
    while buffer.readableBytes < limit {
      var data: UnsafePointer<UInt8>?
      let count = nghttp2_session_mem_send(self.session, &data)
      if count < 0 {
        throw Self.error(Int32(truncatingIfNeeded: count), "nghttp2_session_mem_send")
      }
      guard count > 0, let data else { return false }
      buffer.writeBytes(UnsafeRawBufferPointer(start: data, count: count))
    }
    return true
  }

  /// False once the session has nothing left to read or write: the connection may close.
  var wantsIO: Bool {
    nghttp2_session_want_read(self.session) != 0 || nghttp2_session_want_write(self.session) != 0
  }

  /// False once nghttp2 is done reading: after a GOAWAY that ends the session (ours after an
  /// error or flood, or the final one with no stream left), or the peer's GOAWAY with no stream
  /// left. What it still has to send is then only that GOAWAY and the like: bounded.
  var wantsRead: Bool {
    nghttp2_session_want_read(self.session) != 0
  }

  /// Streams not yet closed.
  var openStreamCount: Int { self.streams.count }

  /// First phase of a graceful close: GOAWAY with last-stream-id 2^31-1 (RFC 9113 §6.8: "the
  /// server is about to close"), then a PING. Streams the peer opens until it has seen the
  /// notice are still served; the PING's acknowledgement (`shutdownPingAcknowledged`) says it
  /// has, and `beginGracefulShutdown()` then sends the real last stream id.
  func submitShutdownNotice() throws(HTTP2Error) {
    guard !self.goawaySubmitted else { return }
    try Self.check(nghttp2_submit_shutdown_notice(self.session), "nghttp2_submit_shutdown_notice")
    // The opaque data is ours to choose; any acknowledgement while this one is outstanding
    // counts, since we send no other PING.
    try Self.check(nghttp2_submit_ping(self.session, UInt8(NGHTTP2_FLAG_NONE.rawValue), nil), "nghttp2_submit_ping")
    self.shutdownPingOutstanding = true
  }

  /// Ends the session because of the peer's behaviour: GOAWAY with `ENHANCE_YOUR_CALM` naming the
  /// last stream we took. nghttp2 stops reading and drops everything else it had queued (pending
  /// acknowledgements, responses), so what `drainOutput` yields next is that GOAWAY alone.
  func terminateEnhanceYourCalm() throws(HTTP2Error) {
    try Self.check(
      nghttp2_session_terminate_session(self.session, NGHTTP2_ENHANCE_YOUR_CALM.rawValue),
      "nghttp2_session_terminate_session"
    )
  }

  /// Forgets the request body of a stream answered before its end, and any that still arrives;
  /// its share of `maxBufferedBytesPerConnection` is given back.
  func discardRequestBody(streamID: Int32) {
    guard let stream = self.stream(streamID), !stream.bodyDiscarded else { return }
    stream.bodyDiscarded = true
    self.bufferedBytes -= (stream.body?.readableBytes ?? 0) + stream.heldByReceiver
    stream.body = nil
    stream.heldByReceiver = 0
  }

  /// Records how many body bytes a streaming request's receiver holds unprocessed.
  /// - Returns: false when that passes `maxRequestBodyBytes` for the stream or
  ///   `maxBufferedBytesPerConnection` for the connection: the caller refuses the stream
  ///   (`discardRequestBody`) and its count is left as it was.
  func receiverHolds(_ bytes: Int, streamID: Int32) -> Bool {
    guard let stream = self.stream(streamID), !stream.bodyDiscarded else { return true }
    let delta = bytes - stream.heldByReceiver
    if bytes > self.settings.maxRequestBodyBytes || self.bufferedBytes + delta > self.settings.maxBufferedBytesPerConnection {
      return false
    }
    self.bufferedBytes += delta
    stream.heldByReceiver = bytes
    return true
  }

  /// Sends GOAWAY(NO_ERROR) naming the last stream we took: no new streams, the open ones finish.
  func beginGracefulShutdown() throws(HTTP2Error) {
    guard !self.goawaySubmitted else { return }
    self.goawaySubmitted = true
    let lastStreamID = nghttp2_session_get_last_proc_stream_id(self.session)
    try Self.check(
      nghttp2_submit_goaway(
        self.session,
        UInt8(NGHTTP2_FLAG_NONE.rawValue),
        lastStreamID,
        NGHTTP2_NO_ERROR.rawValue,
        nil,
        0
      ),
      "nghttp2_submit_goaway"
    )
  }

  /// Queues a response on a stream. A stream the client already reset is silently skipped.
  func submit(_ response: HTTP2Response, streamID: Int32) throws(HTTP2Error) {
    guard let stream = self.stream(streamID) else { return }
    stream.answered = true
    let fields = response.headers
    let status = response.status
    let hasBody = (response.body?.readableBytes ?? 0) > 0
    if response.stream != nil {
      try self.submitStreamingResponse(status: status, headers: fields, stream: stream, streamID: streamID)
    } else if hasBody || response.trailers != nil {
      stream.responseBody = response.body
      stream.responseTrailers = response.trailers
      var provider = nghttp2_data_provider()
      provider.read_callback = readResponseData
      let rv = Self.withNameValues(status: status, fields) { nva, count in
        nghttp2_submit_response(self.session, streamID, nva, count, &provider)
      }
      try Self.check(rv, "nghttp2_submit_response")
    } else {
      let rv = Self.withNameValues(status: status, fields) { nva, count in
        nghttp2_submit_response(self.session, streamID, nva, count, nil)
      }
      try Self.check(rv, "nghttp2_submit_response")
    }
  }

  /// Queues the HEADERS of a response whose body is written over time (`appendStreamData`).
  func submitStreamingResponse(status: Int, headers: [HTTP2Header], streamID: Int32) throws(HTTP2Error) {
    guard let stream = self.stream(streamID) else { return }
    stream.answered = true
    try self.submitStreamingResponse(status: status, headers: headers, stream: stream, streamID: streamID)
  }

  private func submitStreamingResponse(status: Int, headers: [HTTP2Header], stream: Stream, streamID: Int32)
    throws(HTTP2Error)
  {
    stream.streaming = true
    var provider = nghttp2_data_provider()
    provider.read_callback = readResponseData
    let rv = Self.withNameValues(status: status, headers) { nva, count in
      nghttp2_submit_response(self.session, streamID, nva, count, &provider)
    }
    try Self.check(rv, "nghttp2_submit_response")
  }

  /// Adds body bytes and/or the closing trailers to a streaming response and wakes its data source.
  ///
  /// Bytes wait here while the peer's flow-control window is closed. They count toward
  /// `maxBufferedBytesPerConnection`: a peer that keeps a stream's window shut while asking for
  /// more answers gets that stream reset (ENHANCE_YOUR_CALM) once the connection's bound is
  /// reached, instead of growing our memory.
  /// Returns false when the stream is gone or was reset for that.
  @discardableResult
  func appendStreamData(streamID: Int32, bytes: ByteBuffer?, trailers: [HTTP2Header]?) -> Bool {
    guard let stream = self.stream(streamID), stream.streaming, stream.responseTrailers == nil, !stream.responseRefused
    else {
      return false
    }
    if let bytes, bytes.readableBytes > 0,
      self.bufferedBytes + bytes.readableBytes > self.settings.maxBufferedBytesPerConnection
    {
      stream.responseRefused = true
      nghttp2_submit_rst_stream(
        self.session, UInt8(NGHTTP2_FLAG_NONE.rawValue), streamID, NGHTTP2_ENHANCE_YOUR_CALM.rawValue)
      return false
    }
    if var bytes, bytes.readableBytes > 0 {
      self.bufferedBytes += bytes.readableBytes
      stream.responseQueued += bytes.readableBytes
      if stream.responseBody == nil {
        stream.responseBody = bytes
      } else {
        stream.responseBody!.writeBuffer(&bytes)
      }
    }
    if let trailers {
      stream.responseTrailers = trailers
    }
    // Fails harmlessly (NGHTTP2_ERR_INVALID_ARGUMENT) when the source is not deferred right now.
    _ = nghttp2_session_resume_data(self.session, streamID)
    return true
  }

  /// Streaming responses whose stream closed since the last call.
  func takeClosedStreamingStreams() -> [Int32] {
    defer { self.closedStreamingStreams.removeAll(keepingCapacity: true) }
    return self.closedStreamingStreams
  }

  /// The open stream `streamID`, if any.
  private func stream(_ streamID: Int32) -> Stream? {
    if streamID == self.recentStreamID, let stream = self.recentStream {
      return stream
    }
    let stream = self.streams[streamID]
    self.recentStreamID = streamID
    self.recentStream = stream
    return stream
  }

  // MARK: - Callback bodies (called by the C thunks below)

  fileprivate func beginHeaders(streamID: Int32, isRequest: Bool) -> Int32 {
    guard isRequest else { return 0 }
    let stream = self.spareStreams.popLast() ?? Stream()
    self.streams[streamID] = stream
    self.recentStreamID = streamID
    self.recentStream = stream
    return 0
  }

  fileprivate func header(streamID: Int32, name: UnsafeBufferPointer<UInt8>, value: UnsafeBufferPointer<UInt8>)
    -> Int32
  {
    guard let stream = self.stream(streamID), !stream.headComplete else {
      return 0  // request trailers: not used by anything we serve
    }
    // RFC 9113 §6.5.2's size: name, value and 32 bytes of overhead per field.
    let size = name.count + value.count + 32
    stream.headerBytes += size
    // Header lists held by unfinished requests count toward the connection's bound like bodies
    // do: otherwise `maxConcurrentStreams` streams could each park `maxHeaderListSize` bytes
    // (1024 × 64 KiB) by never ending their requests.
    if stream.headerBytes > self.settings.maxHeaderListSize
      || self.bufferedBytes + size > self.settings.maxBufferedBytesPerConnection
    {
      // Resets just this stream; the connection continues. What it held so far is given back
      // when nghttp2 closes it.
      stream.headerBytes -= size
      return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE.rawValue
    }
    self.bufferedBytes += size
    let valueString = self.settings.internedStrings.string(value)
    // `name[0]`, not `name.first`: the generic `first` allocates in debug builds (the budget
    // test counts one).
    if name.count > 0, name[0] == UInt8(ascii: ":") {
      switch self.settings.internedStrings.string(name) {
      case ":method": stream.method = valueString
      case ":path": stream.path = valueString
      case ":authority": stream.authority = valueString
      case ":scheme": stream.scheme = valueString
      default: break
      }
    } else {
      let nameString = self.settings.internedStrings.string(name)
      if nameString == "host" { stream.host = valueString }
      stream.headers.append(HTTP2Header(nameString, valueString))
    }
    return 0
  }

  fileprivate func frameReceived(type: UInt8, flags: UInt8, streamID: Int32, isRequestHeaders: Bool) -> Int32 {
    if type == UInt8(NGHTTP2_PING.rawValue) {
      if flags & UInt8(NGHTTP2_FLAG_ACK.rawValue) != 0, self.shutdownPingOutstanding {
        self.shutdownPingOutstanding = false
        self.events.append(.shutdownPingAcknowledged)
      }
      return 0
    }
    let endStream = flags & UInt8(NGHTTP2_FLAG_END_STREAM.rawValue) != 0
    guard let stream = self.stream(streamID) else { return 0 }
    if type == UInt8(NGHTTP2_RST_STREAM.rawValue) {
      guard !stream.answered, !self.resetBudget.take(now: NIODeadline.now().uptimeNanoseconds) else { return 0 }
      // Stops parsing this read at once; `receive` turns it into the flood error.
      self.resetFlooded = true
      return Int32(NGHTTP2_ERR_CALLBACK_FAILURE.rawValue)
    }
    if type == UInt8(NGHTTP2_HEADERS.rawValue), isRequestHeaders {
      stream.headComplete = true
      if !self.streamingRequestPaths.isEmpty, self.streamingRequestPaths.contains(stream.path) {
        stream.streamsRequest = true
        self.events.append(.streamOpened(stream.makeHead(streamID: streamID)))
      }
    }
    if stream.streamsRequest {
      if endStream, type == UInt8(NGHTTP2_HEADERS.rawValue) || type == UInt8(NGHTTP2_DATA.rawValue) {
        stream.requestEnded = true
        if !stream.bodyDiscarded { self.events.append(.streamEnded(streamID)) }
      }
      return 0
    }
    if type == UInt8(NGHTTP2_DATA.rawValue), !endStream, stream.bodyIsSlice, let body = stream.body {
      // The request goes on in later reads: keep its bytes, not the whole read buffer the slice
      // would pin (a 1-byte body must not hold a 64 KiB buffer per stream).
      var copy = self.allocator.buffer(capacity: body.readableBytes)
      copy.writeImmutableBuffer(body)
      stream.body = copy
      stream.bodyIsSlice = false
    }
    if type == UInt8(NGHTTP2_DATA.rawValue), !endStream {
      // Only unfinished bodies are offered: a request complete in one frame (every Check from
      // Envoy) goes straight to `request` without an extra event.
      if self.earlyResponsePrefixBytes > 0, !stream.offeredEarly, !stream.bodyDiscarded,
        let body = stream.body, body.readableBytes >= self.earlyResponsePrefixBytes
      {
        stream.offeredEarly = true
        self.events.append(.bodyStarted(stream.makeHead(streamID: streamID), body))
      }
      return 0
    }
    guard endStream, type == UInt8(NGHTTP2_HEADERS.rawValue) || type == UInt8(NGHTTP2_DATA.rawValue)
    else { return 0 }
    stream.requestEnded = true
    guard !stream.bodyDiscarded else { return 0 }
    let body = stream.body ?? self.emptyBody
    self.bufferedBytes -= body.readableBytes
    stream.body = nil
    self.events.append(.request(HTTP2Request(head: stream.makeHead(streamID: streamID), body: body)))
    return 0
  }

  fileprivate func dataChunk(streamID: Int32, bytes: UnsafeBufferPointer<UInt8>) -> Int32 {
    guard let stream = self.stream(streamID), !stream.bodyDiscarded else { return 0 }
    if stream.streamsRequest {
      // Handed over at once (the receiver reports what it keeps): a view of the read buffer
      // when the chunk lies in it, else a copy.
      self.events.append(.streamData(streamID, self.inputSlice(bytes) ?? self.copy(bytes)))
      return 0
    }
    let held = stream.body?.readableBytes ?? 0
    if held + bytes.count > self.settings.maxRequestBodyBytes
      || self.bufferedBytes + bytes.count > self.settings.maxBufferedBytesPerConnection
    {
      stream.bodyDiscarded = true
      self.bufferedBytes -= held
      stream.body = nil
      self.events.append(.oversized(stream.makeHead(streamID: streamID)))
      return 0
    }
    self.bufferedBytes += bytes.count
    // The common case, a body in one DATA frame: keep a slice of the read buffer, no copy.
    if stream.body == nil, let slice = self.inputSlice(bytes) {
      stream.body = slice
      stream.bodyIsSlice = true
      return 0
    }
    if stream.body == nil {
      stream.body = self.allocator.buffer(capacity: bytes.count)
    }
    // Appending to a slice copies it into storage of its own (copy on write).
    stream.body!.writeBytes(UnsafeRawBufferPointer(bytes))
    stream.bodyIsSlice = false
    return 0
  }

  /// `bytes` as a slice of the buffer being received, when they lie inside it.
  private func inputSlice(_ bytes: UnsafeBufferPointer<UInt8>) -> ByteBuffer? {
    guard let input = self.input, let inputBase = self.inputBase, let start = bytes.baseAddress else { return nil }
    let offset = UnsafeRawPointer(start) - inputBase
    guard offset >= 0, offset + bytes.count <= input.readableBytes else { return nil }
    return input.getSlice(at: input.readerIndex + offset, length: bytes.count)
  }

  private func copy(_ bytes: UnsafeBufferPointer<UInt8>) -> ByteBuffer {
    var buffer = self.allocator.buffer(capacity: bytes.count)
    buffer.writeBytes(UnsafeRawBufferPointer(bytes))
    return buffer
  }

  fileprivate func streamClosed(streamID: Int32) -> Int32 {
    if streamID == self.recentStreamID {
      self.recentStream = nil
    }
    if let stream = self.streams.removeValue(forKey: streamID) {
      // A stream reset mid-request leaves its partial body behind, and every stream leaves its
      // header list; a streaming one leaves what its receiver held and unsent response bytes:
      // give the budget back.
      self.bufferedBytes -=
        (stream.body?.readableBytes ?? 0) + stream.headerBytes + stream.heldByReceiver + stream.responseQueued
      if stream.streaming {
        self.closedStreamingStreams.append(streamID)
      }
      if self.spareStreams.count < Self.maxSpareStreams {
        stream.reset()
        self.spareStreams.append(stream)
      }
    }
    return 0
  }

  fileprivate func frameSent(type: UInt8, flags: UInt8, streamID: Int32) -> Int32 {
    // We answered before the client finished sending (oversized body, or answered early): tell it to stop
    // (RFC 9113 §8.1: RST_STREAM with NO_ERROR after a complete response).
    guard flags & UInt8(NGHTTP2_FLAG_END_STREAM.rawValue) != 0,
      type == UInt8(NGHTTP2_HEADERS.rawValue) || type == UInt8(NGHTTP2_DATA.rawValue),
      let stream = self.stream(streamID), !stream.requestEnded
    else { return 0 }
    nghttp2_submit_rst_stream(self.session, UInt8(NGHTTP2_FLAG_NONE.rawValue), streamID, NGHTTP2_NO_ERROR.rawValue)
    return 0
  }

  fileprivate func readData(
    streamID: Int32,
    into destination: UnsafeMutablePointer<UInt8>,
    length: Int,
    flags: UnsafeMutablePointer<UInt32>
  ) -> Int {
    guard let stream = self.stream(streamID) else {
      return Int(NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE.rawValue)
    }
    var copied = 0
    if var body = stream.responseBody {
      copied = min(length, body.readableBytes)
      body.withUnsafeReadableBytes { source in
        if let base = source.baseAddress {
          UnsafeMutableRawPointer(destination).copyMemory(from: base, byteCount: copied)
        }
      }
      body.moveReaderIndex(forwardBy: copied)
      stream.responseBody = body.readableBytes > 0 ? body : nil
      if stream.streaming {
        stream.responseQueued -= copied
        self.bufferedBytes -= copied
      }
    }
    if stream.responseBody == nil, stream.streaming, stream.responseTrailers == nil {
      // More of a streaming body will come: park the data source until `appendStreamData`.
      return copied > 0 ? copied : Int(NGHTTP2_ERR_DEFERRED.rawValue)
    }
    if stream.responseBody == nil {
      flags.pointee |= NGHTTP2_DATA_FLAG_EOF.rawValue
      if let trailers = stream.responseTrailers {
        flags.pointee |= NGHTTP2_DATA_FLAG_NO_END_STREAM.rawValue
        stream.responseTrailers = nil
        let rv = Self.withNameValues(status: nil, trailers) { nva, count in
          nghttp2_submit_trailer(self.session, streamID, nva, count)
        }
        if rv != 0 { return Int(NGHTTP2_ERR_CALLBACK_FAILURE.rawValue) }
      }
    }
    return copied
  }

  // MARK: - Helpers

  /// Runs `body` with an `nghttp2_nv` array for `:status` (if given) and `fields`, names
  /// lower-cased. Both live in stack-allocated temporary storage: nghttp2 copies them.
  private static func withNameValues<R>(
    status: Int?,
    _ fields: [HTTP2Header],
    _ body: (UnsafePointer<nghttp2_nv>?, Int) -> R
  ) -> R {
    // Loops by index: debug builds allocate in the generic iterator (the budget test counts one).
    var byteCount = 16  // room for ":status" and its value
    for index in fields.indices {
      byteCount += fields[index].name.utf8.count + fields[index].value.utf8.count
    }
    let count = fields.count + (status == nil ? 0 : 1)
    return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: byteCount) { storage in
      withUnsafeTemporaryAllocation(of: nghttp2_nv.self, capacity: max(count, 1)) { nva in
        var used = 0
        var index = 0
        if let status {
          Self.appendField(":status".utf8, String(status).utf8, storage, &used, nva, &index)
        }
        for fieldIndex in fields.indices {
          Self.appendField(fields[fieldIndex].name.utf8, fields[fieldIndex].value.utf8, storage, &used, nva, &index)
        }
        return body(UnsafePointer(nva.baseAddress), count)
      }
    }
  }

  /// Copies one field into `storage` at `used` and describes it in `nva[index]`.
  private static func appendField(
    _ name: String.UTF8View,
    _ value: String.UTF8View,
    _ storage: UnsafeMutableBufferPointer<UInt8>,
    _ used: inout Int,
    _ nva: UnsafeMutableBufferPointer<nghttp2_nv>,
    _ index: inout Int
  ) {
    let nameStart = used
    for byte in name {
      // HTTP/2 field names are lower-case (RFC 9113 §8.2.1).
      storage[used] = byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte
      used += 1
    }
    let valueStart = used
    for byte in value {
      storage[used] = byte
      used += 1
    }
    nva[index] = nghttp2_nv(
      name: storage.baseAddress! + nameStart,
      value: storage.baseAddress! + valueStart,
      namelen: valueStart - nameStart,
      valuelen: used - valueStart,
      flags: UInt8(NGHTTP2_NV_FLAG_NONE.rawValue)
    )
    index += 1
  }

  private static func check(_ rv: Int32, _ call: String) throws(HTTP2Error) {
    if rv != 0 { throw Self.error(rv, call) }
  }

  private static func error(_ rv: Int32, _ call: String) -> HTTP2Error {
    HTTP2Error(code: Int(rv), message: "\(call): \(String(cString: nghttp2_strerror(rv)))")
  }
}

// MARK: - C thunks: non-capturing, find the session through user_data, call one method.

private func session(_ userData: UnsafeMutableRawPointer?) -> NGHTTP2Session {
  Unmanaged<NGHTTP2Session>.fromOpaque(userData!).takeUnretainedValue()
}

private func onBeginHeaders(
  _: OpaquePointer?,
  _ frame: UnsafePointer<nghttp2_frame>?,
  _ userData: UnsafeMutableRawPointer?
) -> Int32 {
  guard let frame else { return 0 }
  let isRequest =
    frame.pointee.hd.type == UInt8(NGHTTP2_HEADERS.rawValue)
    && frame.pointee.headers.cat == NGHTTP2_HCAT_REQUEST
  return session(userData).beginHeaders(streamID: frame.pointee.hd.stream_id, isRequest: isRequest)
}

private func onHeader(
  _: OpaquePointer?,
  _ frame: UnsafePointer<nghttp2_frame>?,
  _ name: UnsafePointer<UInt8>?,
  _ nameLength: Int,
  _ value: UnsafePointer<UInt8>?,
  _ valueLength: Int,
  _: UInt8,
  _ userData: UnsafeMutableRawPointer?
) -> Int32 {
  guard let frame else { return 0 }
  return session(userData).header(
    streamID: frame.pointee.hd.stream_id,
    name: UnsafeBufferPointer(start: name, count: nameLength),
    value: UnsafeBufferPointer(start: value, count: valueLength)
  )
}

private func onFrameRecv(
  _: OpaquePointer?,
  _ frame: UnsafePointer<nghttp2_frame>?,
  _ userData: UnsafeMutableRawPointer?
) -> Int32 {
  guard let frame else { return 0 }
  let hd = frame.pointee.hd
  let isRequestHeaders =
    hd.type == UInt8(NGHTTP2_HEADERS.rawValue) && frame.pointee.headers.cat == NGHTTP2_HCAT_REQUEST
  return session(userData).frameReceived(
    type: hd.type,
    flags: hd.flags,
    streamID: hd.stream_id,
    isRequestHeaders: isRequestHeaders
  )
}

private func onDataChunkRecv(
  _: OpaquePointer?,
  _: UInt8,
  _ streamID: Int32,
  _ data: UnsafePointer<UInt8>?,
  _ length: Int,
  _ userData: UnsafeMutableRawPointer?
) -> Int32 {
  session(userData).dataChunk(streamID: streamID, bytes: UnsafeBufferPointer(start: data, count: length))
}

private func onStreamClose(
  _: OpaquePointer?,
  _ streamID: Int32,
  _: UInt32,
  _ userData: UnsafeMutableRawPointer?
) -> Int32 {
  session(userData).streamClosed(streamID: streamID)
}

private func onFrameSend(
  _: OpaquePointer?,
  _ frame: UnsafePointer<nghttp2_frame>?,
  _ userData: UnsafeMutableRawPointer?
) -> Int32 {
  guard let frame else { return 0 }
  let hd = frame.pointee.hd
  return session(userData).frameSent(type: hd.type, flags: hd.flags, streamID: hd.stream_id)
}

private func readResponseData(
  _: OpaquePointer?,
  _ streamID: Int32,
  _ buffer: UnsafeMutablePointer<UInt8>?,
  _ length: Int,
  _ flags: UnsafeMutablePointer<UInt32>?,
  _: UnsafeMutablePointer<nghttp2_data_source>?,
  _ userData: UnsafeMutableRawPointer?
) -> Int {
  guard let buffer, let flags else { return Int(NGHTTP2_ERR_CALLBACK_FAILURE.rawValue) }
  return session(userData).readData(streamID: streamID, into: buffer, length: length, flags: flags)
}

extension HTTP2Error {
  /// nghttp2 found the peer flooding us (NGHTTP2_ERR_FLOODED): too many acknowledgements owed.
  var isFlood: Bool { self.code == Int(NGHTTP2_ERR_FLOODED.rawValue) }

  /// Our code for a client past `StreamResetBudget` (outside nghttp2's range of codes).
  static let resetFloodCode = -100_001

  /// The client reset too many streams before they were answered (rapid reset).
  var isResetFlood: Bool { self.code == Self.resetFloodCode }
}
