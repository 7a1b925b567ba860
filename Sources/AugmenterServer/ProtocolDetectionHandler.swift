//===----------------------------------------------------------------------===//
// Augmenter — one port for HTTP/2 (prior knowledge) and HTTP/1.1: look at the first bytes.
//===----------------------------------------------------------------------===//

import NIOCore

/// The protocol a connection turned out to speak.
enum DetectedProtocol: Sendable {
  /// It began with the HTTP/2 client connection preface.
  case http2
  /// Anything else: HTTP/1.1 (its parser decides whether it is valid).
  case http1
}

/// Buffers the first bytes of a connection until they match or miss the HTTP/2 connection
/// preface (`PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n`), then installs the matching handlers after itself,
/// replays the buffered bytes and removes itself.
final class ProtocolDetectionHandler: ChannelInboundHandler, RemovableChannelHandler {
  typealias InboundIn = ByteBuffer
  typealias InboundOut = ByteBuffer

  private static let preface: [UInt8] = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)

  private let configure: (DetectedProtocol, ChannelPipeline.SynchronousOperations) throws -> Void
  private var buffered: ByteBuffer?
  private var done = false

  /// `configure` adds the protocol's handlers (at the end of the pipeline, after this one).
  init(configure: @escaping (DetectedProtocol, ChannelPipeline.SynchronousOperations) throws -> Void) {
    self.configure = configure
  }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    guard !self.done else {
      context.fireChannelRead(data)
      return
    }
    var bytes = Self.unwrapInboundIn(data)
    if var buffered = self.buffered {
      buffered.writeBuffer(&bytes)
      bytes = buffered
    }
    let count = min(bytes.readableBytes, Self.preface.count)
    let prefix = bytes.readableBytesView.prefix(count)
    guard prefix.elementsEqual(Self.preface.prefix(count)) else {
      self.decide(.http1, bytes: bytes, context: context)
      return
    }
    if count == Self.preface.count {
      self.decide(.http2, bytes: bytes, context: context)
    } else {
      self.buffered = bytes
    }
  }

  private func decide(_ detected: DetectedProtocol, bytes: ByteBuffer, context: ChannelHandlerContext) {
    self.done = true
    self.buffered = nil
    do {
      try self.configure(detected, context.pipeline.syncOperations)
    } catch {
      context.fireErrorCaught(error)
      context.close(promise: nil)
      return
    }
    context.fireChannelRead(Self.wrapInboundOut(bytes))
    context.fireChannelReadComplete()
    context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
  }
}

@available(*, unavailable)
extension ProtocolDetectionHandler: Sendable {}
