//===----------------------------------------------------------------------===//
// End-to-end harness: a plain TCP connection sending exact bytes and recording the answer.
//===----------------------------------------------------------------------===//

import Foundation
import NIOCore
import NIOPosix
import Synchronization
import TestSupport

/// A plain TCP connection that sends exactly the bytes a test gives it and records every byte the
/// server sends back, and whether the server closed the connection. For HTTP/1.1 edge cases
/// (pipelining, malformed requests, half-sent requests) that a real HTTP client would not send.
final class RawConnection: Sendable {
  let port: Int
  private let channel: any Channel
  private let inbound: RawInbound

  private init(port: Int, channel: any Channel, inbound: RawInbound) {
    self.port = port
    self.channel = channel
    self.inbound = inbound
  }

  static func connect(port: Int, scope: TestScope? = nil) async throws -> RawConnection {
    let inbound = RawInbound()
    let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
      .connectTimeout(.seconds(5))
      .channelInitializer { channel in
        channel.eventLoop.makeCompletedFuture {
          try channel.pipeline.syncOperations.addHandler(RawCollector(inbound: inbound))
        }
      }
      .connect(host: "127.0.0.1", port: port)
      .get()
    let connection = RawConnection(port: port, channel: channel, inbound: inbound)
    scope?.onTeardown("close raw connection to \(port)") { connection.close() }
    return connection
  }

  /// Writes `bytes` in one write; a write error (the server closed and reset) is ignored: what
  /// the server answered before is what the test looks at.
  func write(_ bytes: [UInt8]) async {
    try? await channel.writeAndFlush(ByteBuffer(bytes: bytes)).get()
  }

  func write(_ text: String) async { await write(Array(text.utf8)) }

  /// Every byte received so far.
  var received: [UInt8] { inbound.bytes }
  /// True once the server closed the connection (EOF or reset).
  var isClosed: Bool { inbound.closed }

  /// Waits until `count` complete HTTP/1.1 responses have arrived; returns them and any bytes after.
  func responses(
    _ count: Int, requestMethods: [String]? = nil, timeout: Duration = .seconds(10)
  ) async throws -> (responses: [RawHTTPResponse], rest: [UInt8]) {
    try await eventually("\(count) complete HTTP/1.1 response(s) on 127.0.0.1:\(port)", timeout: timeout, every: .milliseconds(20)) {
      () throws -> ([RawHTTPResponse], [UInt8])? in
      let parsed = try RawHTTPResponse.parseAll(received, requestMethods: requestMethods)
      if parsed.responses.count >= count { return parsed }
      if isClosed {
        throw TestFailure(
          "the server closed after \(parsed.responses.count) complete response(s), expected \(count); received: \(RawHTTPResponse.printable(received))"
        )
      }
      return nil
    }
  }

  /// Waits up to `timeout` for the server to close the connection; true if it did.
  func waitForClose(timeout: Duration) async -> Bool {
    (try? await eventually("the server to close the connection", timeout: timeout, every: .milliseconds(20)) {
      isClosed ? true : nil
    }) ?? false
  }

  func close() {
    channel.close(promise: nil)
  }
}

/// One HTTP/1.1 response parsed from raw bytes (framed by `content-length`, as Augmenter sends).
struct RawHTTPResponse: HTTPResponseParts, Sendable, CustomStringConvertible {
  var version: String
  var status: Int
  var headers: [HeaderField]
  var body: [UInt8]

  var description: String { "\(version) \(status) \(headers) \(text.prefix(300))" }

  /// Parses every complete response at the start of `bytes`; the incomplete tail is `rest`.
  /// `requestMethods[i]` is the method of the i-th request (a response to HEAD has no body).
  /// Throws on bytes that are not an HTTP/1.1 response or a response without `content-length`.
  static func parseAll(_ bytes: [UInt8], requestMethods: [String]? = nil) throws -> (responses: [RawHTTPResponse], rest: [UInt8]) {
    var responses: [RawHTTPResponse] = []
    var index = 0
    let separator: [UInt8] = Array("\r\n\r\n".utf8)
    while index < bytes.count {
      guard let headEnd = find(separator, in: bytes, from: index) else { break }
      let headText = String(decoding: bytes[index..<headEnd], as: UTF8.self)
      var lines = headText.components(separatedBy: "\r\n")
      let statusLine = lines.removeFirst()
      let parts = statusLine.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
      guard parts.count >= 2, parts[0].hasPrefix("HTTP/"), let status = Int(parts[1]) else {
        throw TestFailure("not an HTTP/1.1 status line: \(statusLine.debugDescription) in \(printable(bytes))")
      }
      let headers = try lines.map { line -> HeaderField in
        guard let colon = line.firstIndex(of: ":") else { throw TestFailure("bad header line \(line.debugDescription)") }
        return HeaderField(
          name: line[..<colon].lowercased(),
          value: line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
      }
      let isHead = requestMethods.map { responses.count < $0.count && $0[responses.count] == "HEAD" } ?? false
      let length: Int
      if isHead || status == 204 || status == 304 || (100..<200).contains(status) {
        length = 0
      } else {
        let lengths = headers.values("content-length")
        guard lengths.count == 1, let value = Int(lengths[0]), value >= 0 else {
          throw TestFailure("response without exactly one valid content-length: \(statusLine) \(headers)")
        }
        length = value
      }
      let bodyStart = headEnd + separator.count
      guard bytes.count - bodyStart >= length else { break }
      responses.append(
        RawHTTPResponse(
          version: String(parts[0]), status: status, headers: headers,
          body: Array(bytes[bodyStart..<(bodyStart + length)])))
      index = bodyStart + length
    }
    return (responses, Array(bytes[index...]))
  }

  private static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int) -> Int? {
    guard haystack.count >= needle.count else { return nil }
    var i = start
    while i <= haystack.count - needle.count {
      if haystack[i] == needle[0] && Array(haystack[i..<(i + needle.count)]) == needle { return i }
      i += 1
    }
    return nil
  }

  /// Bytes shown for a message: text with control characters escaped, cut at 2,000 characters.
  static func printable(_ bytes: [UInt8]) -> String {
    let text = String(decoding: bytes.prefix(2000), as: UTF8.self).debugDescription
    return bytes.count > 2000 ? text + "…(\(bytes.count) bytes)" : text
  }
}

private final class RawInbound: Sendable {
  private struct State {
    var bytes: [UInt8] = []
    var closed = false
  }
  private let state = Mutex(State())

  var bytes: [UInt8] { state.withLock { $0.bytes } }
  var closed: Bool { state.withLock { $0.closed } }
  func append(_ buffer: ByteBuffer) { state.withLock { $0.bytes.append(contentsOf: buffer.readableBytesView) } }
  func close() { state.withLock { $0.closed = true } }
}

private final class RawCollector: ChannelInboundHandler {
  typealias InboundIn = ByteBuffer

  private let inbound: RawInbound
  init(inbound: RawInbound) { self.inbound = inbound }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    inbound.append(unwrapInboundIn(data))
  }

  func channelInactive(context: ChannelHandlerContext) {
    inbound.close()
    context.fireChannelInactive()
  }

  func errorCaught(context: ChannelHandlerContext, error: any Error) {
    // A reset after the server's answer: the bytes received so far are the outcome.
    context.close(promise: nil)
  }
}
