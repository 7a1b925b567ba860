//===----------------------------------------------------------------------===//
// End-to-end harness: a minimal ext_authz server, to test what Envoy does with answers.
//===----------------------------------------------------------------------===//

import EnvoyAPI
import NIOCore
import NIOHPACK  // HPACKHeaders: part of swift-nio-http2, a dependency of NIOHTTP2
import NIOHTTP2
import NIOPosix
import SwiftProtobuf
import Synchronization
import TestSupport

/// A minimal ext_authz gRPC server on swift-nio-http2 that answers every Check with a response the
/// test chooses and records the CheckRequests it got.
///
/// It is not Augmenter: it lets the tests pin down how the real Envoy 1.40 applies a CheckResponse
/// (`append`, denials) independently of the server under test, so that when an Augmenter test fails
/// we know which side to look at.
final class StubAuthorizationServer: Sendable {
  let port: Int
  private let channel: any Channel
  private let state: StubState

  private init(port: Int, channel: any Channel, state: StubState) {
    self.port = port
    self.channel = channel
    self.state = state
  }

  static func start(scope: TestScope, response: Envoy_Service_Auth_V3_CheckResponse) async throws -> StubAuthorizationServer {
    let state = StubState(response: response)
    let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
      .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
      .childChannelInitializer { channel in
        state.track(channel)
        return channel.eventLoop.makeCompletedFuture {
          _ = try channel.pipeline.syncOperations.configureHTTP2Pipeline(
            mode: .server, connectionConfiguration: .init(), streamConfiguration: .init()
          ) { stream in
            stream.eventLoop.makeCompletedFuture {
              try stream.pipeline.syncOperations.addHandler(StubStreamHandler(state: state))
            }
          }
        }
      }
      .bind(host: "127.0.0.1", port: 0)
      .get()
    guard let port = channel.localAddress?.port else { throw TestFailure("stub authz: no port") }
    let server = StubAuthorizationServer(port: port, channel: channel, state: state)
    scope.onTeardown("stop stub authorization server") { await server.stop() }
    return server
  }

  func setResponse(_ response: Envoy_Service_Auth_V3_CheckResponse) { state.setResponse(response) }
  var requests: [Envoy_Service_Auth_V3_CheckRequest] { state.requests }

  func stop() async {
    try? await channel.close()
    for child in state.connections() { try? await child.close() }
  }
}

private final class StubState: Sendable {
  private struct Values {
    var response: Envoy_Service_Auth_V3_CheckResponse
    var requests: [Envoy_Service_Auth_V3_CheckRequest] = []
    var connections: [any Channel] = []
  }
  private let values: Mutex<Values>

  init(response: Envoy_Service_Auth_V3_CheckResponse) { values = Mutex(Values(response: response)) }

  func setResponse(_ response: Envoy_Service_Auth_V3_CheckResponse) { values.withLock { $0.response = response } }
  func record(_ request: Envoy_Service_Auth_V3_CheckRequest) -> Envoy_Service_Auth_V3_CheckResponse {
    values.withLock {
      $0.requests.append(request)
      return $0.response
    }
  }
  var requests: [Envoy_Service_Auth_V3_CheckRequest] { values.withLock { $0.requests } }
  func track(_ channel: any Channel) { values.withLock { $0.connections.append(channel) } }
  func connections() -> [any Channel] { values.withLock { $0.connections } }
}

private final class StubStreamHandler: ChannelInboundHandler {
  typealias InboundIn = HTTP2Frame.FramePayload
  typealias OutboundOut = HTTP2Frame.FramePayload

  private let state: StubState
  private var body: [UInt8] = []

  init(state: StubState) { self.state = state }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    switch unwrapInboundIn(data) {
    case .headers(let headers):
      if headers.endStream { respond(context: context) }
    case .data(let data):
      if case .byteBuffer(let buffer) = data.data { body.append(contentsOf: buffer.readableBytesView) }
      if data.endStream { respond(context: context) }
    default:
      break
    }
  }

  private func respond(context: ChannelHandlerContext) {
    var grpcStatus = "0"
    var payload: [UInt8] = []
    do {
      let messages = try GRPCWire.messages(in: body)
      let request = try Envoy_Service_Auth_V3_CheckRequest(serializedBytes: messages.first ?? [])
      payload = try GRPCWire.frame(state.record(request))
    } catch {
      grpcStatus = "3"
    }
    let headers: HPACKHeaders = [":status": "200", "content-type": "application/grpc"]
    context.write(wrapOutboundOut(.headers(.init(headers: headers))), promise: nil)
    if !payload.isEmpty {
      context.write(wrapOutboundOut(.data(.init(data: .byteBuffer(ByteBuffer(bytes: payload))))), promise: nil)
    }
    let trailers: HPACKHeaders = ["grpc-status": grpcStatus]
    context.writeAndFlush(wrapOutboundOut(.headers(.init(headers: trailers, endStream: true))), promise: nil)
  }
}
