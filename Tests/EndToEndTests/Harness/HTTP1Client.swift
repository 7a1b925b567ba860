//===----------------------------------------------------------------------===//
// End-to-end harness: an HTTP/1.1 client that sends and reads exact bytes.
//===----------------------------------------------------------------------===//

import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import TestSupport

/// One header line as sent or received; arrays of these keep order and duplicates.
struct HeaderField: Sendable, Hashable, CustomStringConvertible {
  var name: String
  var value: String
  var description: String { "\(name): \(value)" }
}

extension Array where Element == HeaderField {
  /// Every value under `name` (case-insensitive), in order, duplicates kept.
  func values(_ name: String) -> [String] {
    let lowered = name.lowercased()
    return filter { $0.name.lowercased() == lowered }.map(\.value)
  }
}

/// An HTTP/1.1 response, fully read.
/// What the tests read from any HTTP/1.1 response, whichever client received it.
protocol HTTPResponseParts {
  var headers: [HeaderField] { get }
  var body: [UInt8] { get }
}

extension HTTPResponseParts {
  /// The body as UTF-8 text.
  var text: String { String(decoding: body, as: UTF8.self) }
  /// The first value of header `name`.
  func header(_ name: String) -> String? { headers.values(name).first }
  /// The body parsed as a JSON object, or nil.
  func jsonObject() -> [String: Any]? {
    (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any]
  }
}

struct HTTPResponse: HTTPResponseParts, Sendable, CustomStringConvertible {
  var status: Int
  var headers: [HeaderField]
  var body: [UInt8]

  var description: String { "HTTP \(status) \(headers) \(text.prefix(500))" }
}

/// A minimal HTTP/1.1 client over SwiftNIO: one request per connection, headers sent exactly as
/// given (order and duplicates kept), so tests control what a client sends through Envoy.
enum HTTP1Client {
  static func request(
    port: Int,
    method: HTTPMethod = .GET,
    path: String,
    headers: [HeaderField] = [],
    body: [UInt8] = [],
    timeout: Duration = .seconds(10),
    tls: TLSConfiguration? = nil
  ) async throws -> HTTPResponse {
    let group = MultiThreadedEventLoopGroup.singleton
    let promise = group.next().makePromise(of: HTTPResponse.self)
    // With `tls`: HTTPS with SNI and hostname verification for `localhost`.
    let sslContext = try tls.map { try NIOSSLContext(configuration: $0) }
    let channel: any Channel
    do {
      channel = try await ClientBootstrap(group: group)
        .connectTimeout(.seconds(5))
        .channelInitializer { channel in
          channel.eventLoop.makeCompletedFuture {
            if let sslContext {
              try channel.pipeline.syncOperations.addHandler(
                NIOSSLClientHandler(context: sslContext, serverHostname: "localhost"))
            }
            try channel.pipeline.syncOperations.addHTTPClientHandlers()
            try channel.pipeline.syncOperations.addHandler(ResponseCollector(promise: promise))
          }
        }
        .connect(host: "127.0.0.1", port: port)
        .get()
    } catch {
      promise.fail(error)  // a promise must not be dropped uncompleted
      throw error
    }
    let timeoutTask = channel.eventLoop.scheduleTask(in: .nanoseconds(Int64(timeout.nanoseconds))) {
      promise.fail(TestFailure("HTTP \(method) 127.0.0.1:\(port)\(path): no complete response within \(timeout)"))
      channel.close(promise: nil)
    }
    var head = HTTPRequestHead(version: .http1_1, method: method, uri: path)
    head.headers.add(name: "host", value: "127.0.0.1:\(port)")
    for field in headers { head.headers.add(name: field.name, value: field.value) }
    if !body.isEmpty || method == .POST || method == .PUT {
      head.headers.add(name: "content-length", value: String(body.count))
    }
    head.headers.add(name: "connection", value: "close")
    channel.write(HTTPClientRequestPart.head(head), promise: nil)
    if !body.isEmpty {
      channel.write(HTTPClientRequestPart.body(.byteBuffer(ByteBuffer(bytes: body))), promise: nil)
    }
    channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
    defer {
      timeoutTask.cancel()
      channel.close(promise: nil)
    }
    return try await promise.futureResult.get()
  }

  static func get(port: Int, path: String, headers: [HeaderField] = [], tls: TLSConfiguration? = nil) async throws -> HTTPResponse {
    try await request(port: port, path: path, headers: headers, tls: tls)
  }
}

extension Duration {
  var nanoseconds: Int64 {
    let (seconds, attoseconds) = components
    return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
  }
}

private final class ResponseCollector: ChannelInboundHandler {
  typealias InboundIn = HTTPClientResponsePart

  private let promise: EventLoopPromise<HTTPResponse>
  private var head: HTTPResponseHead?
  private var body: [UInt8] = []

  init(promise: EventLoopPromise<HTTPResponse>) { self.promise = promise }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    switch unwrapInboundIn(data) {
    case .head(let head):
      self.head = head
    case .body(let buffer):
      body.append(contentsOf: buffer.readableBytesView)
    case .end:
      guard let head else { return }
      let headers = head.headers.map { HeaderField(name: $0.name.lowercased(), value: $0.value) }
      promise.succeed(HTTPResponse(status: Int(head.status.code), headers: headers, body: body))
      context.close(promise: nil)
    }
  }

  func channelInactive(context: ChannelHandlerContext) {
    promise.fail(TestFailure("connection closed before a complete HTTP response"))
    context.fireChannelInactive()
  }

  func errorCaught(context: ChannelHandlerContext, error: any Error) {
    promise.fail(error)
    context.close(promise: nil)
  }
}

/// Plain TCP reachability of a loopback port.
enum TCPProbe {
  static func canConnect(port: Int) async -> Bool {
    do {
      let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .connectTimeout(.seconds(2))
        .connect(host: "127.0.0.1", port: port)
        .get()
      try? await channel.close()
      return true
    } catch {
      return false
    }
  }
}
