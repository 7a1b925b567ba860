//===----------------------------------------------------------------------===//
// End-to-end harness: one server-streaming gRPC call.
//===----------------------------------------------------------------------===//

import Foundation
import NIOCore
import NIOHTTP2
import SwiftProtobuf
import Synchronization
import TestSupport

/// One server-streaming gRPC call (opened with ``GRPCTestClient/openServerStream(path:body:extraHeaders:)``):
/// the test reads each message as it arrives, then the trailers when the server ends the stream.
final class GRPCServerStream: Sendable {
  private let stream: any Channel
  private let frames: GRPCServerStreamFrames
  /// How many messages the test has taken with ``next(as:timeout:)``.
  private let taken = Atomic<Int>(0)

  init(stream: any Channel, frames: GRPCServerStreamFrames) {
    self.stream = stream
    self.frames = frames
  }

  /// Everything received so far (headers, body, trailers), as one response.
  var received: GRPCResponse { frames.snapshot }

  /// The next message not taken yet, decoded as `M`; waits up to `timeout` for it to arrive.
  /// Throws when the stream ends (or is reset) without one.
  func next<M: SwiftProtobuf.Message>(as type: M.Type, timeout: Duration = .seconds(10)) async throws -> M {
    let index = taken.load(ordering: .relaxed)
    let bytes = try await eventually(
      "message \(index + 1) on the server stream", timeout: timeout, every: .milliseconds(20)
    ) { () throws -> [UInt8]? in
      let response = frames.snapshot
      let messages = try response.messages()
      if messages.count > index { return messages[index] }
      if response.complete || response.resetCode != nil || frames.isClosed {
        throw TestFailure("the stream ended after \(messages.count) message(s), expected at least \(index + 1): \(response)")
      }
      return nil
    }
    taken.add(1, ordering: .relaxed)
    return try M(serializedBytes: bytes)
  }

  /// How many complete messages have arrived in total (taken or not).
  func messageCount() throws -> Int { try frames.snapshot.messages().count }

  /// Waits up to `timeout` for the server to end the stream (END_STREAM, reset or connection
  /// closed); returns everything received. Throws when it is still open at the deadline.
  func waitForEnd(timeout: Duration = .seconds(10)) async throws -> GRPCResponse {
    try await eventually("the server to end the stream", timeout: timeout, every: .milliseconds(20)) {
      let response = frames.snapshot
      return response.complete || response.resetCode != nil || frames.isClosed ? response : nil
    }
  }

  /// Closes (resets) the stream from the client side.
  func cancel() {
    stream.close(promise: nil)
  }
}

/// The frames of one server stream, shared between its channel handler and the test.
final class GRPCServerStreamFrames: Sendable {
  private struct State {
    var response = GRPCResponse()
    var closed = false
  }
  private let state = Mutex(State())

  var snapshot: GRPCResponse { state.withLock { $0.response } }
  var isClosed: Bool { state.withLock { $0.closed } }

  fileprivate func update(_ body: (inout GRPCResponse) -> Void) { state.withLock { body(&$0.response) } }
  fileprivate func close() { state.withLock { $0.closed = true } }
}

/// Records a server stream's frames into ``GRPCServerStreamFrames`` as they arrive.
final class GRPCServerStreamHandler: ChannelInboundHandler {
  typealias InboundIn = HTTP2Frame.FramePayload

  private let frames: GRPCServerStreamFrames

  init(frames: GRPCServerStreamFrames) { self.frames = frames }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    switch unwrapInboundIn(data) {
    case .headers(let headers):
      let fields = headers.headers.map { HeaderField(name: $0.name, value: $0.value) }
      frames.update { response in
        if response.headers.isEmpty {
          response.headers = fields
        } else {
          response.trailers = fields
        }
        if headers.endStream { response.complete = true }
      }
    case .data(let data):
      frames.update { response in
        if case .byteBuffer(let buffer) = data.data {
          response.body.append(contentsOf: buffer.readableBytesView)
        }
        if data.endStream { response.complete = true }
      }
    case .rstStream(let code):
      frames.update { $0.resetCode = "\(code)" }
    default:
      break
    }
  }

  func channelInactive(context: ChannelHandlerContext) {
    frames.close()
    context.fireChannelInactive()
  }

  func errorCaught(context: ChannelHandlerContext, error: any Error) {
    // The outcome is what the server sent; stream errors show as a reset or a close.
  }
}
