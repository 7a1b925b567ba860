//===----------------------------------------------------------------------===//
// Augmenter — hands HTTP/1.1 input to the decoder in bounded slices, and only on demand.
//===----------------------------------------------------------------------===//

package import NIOCore

/// Fired by ``HTTP1InputGate`` just before it passes bytes to the HTTP/1.1 decoder, so handlers
/// after the decoder know that input arrived (the decoder itself says nothing until a request head
/// is complete).
package struct HTTP1InputArrived: Sendable {}

/// Sits right before NIOHTTP1's decoder and lets it parse at most `sliceBytes` per read demand.
///
/// Why: the decoder parses a whole socket read at once, and one read of 64 KiB can hold thousands
/// of tiny pipelined GETs, each of which becomes a request the handlers after it must buffer or
/// answer (NIOHTTP1's `HTTPServerPipelineHandler` buffers every parsed part while a response is
/// pending; we answer synchronously, so every answer is queued for a socket the client may never
/// read). Withholding `read()` (backpressure, the pipelining bound) only stops the *next* socket
/// read; this gate makes it also stop the parsing of bytes already read.
///
/// Demand is NIO's own signal: a `read()` that reaches this handler means every handler after it
/// wants input. The gate answers it from the bytes it holds, one slice per `read()`, and only
/// asks the socket when it holds nothing. Because the channel re-issues `read()` (auto-read) only
/// after a *socket* read, the gate re-issues it itself after serving one from its bytes.
package final class HTTP1InputGate: ChannelDuplexHandler, RemovableChannelHandler {
  package typealias InboundIn = ByteBuffer
  package typealias InboundOut = ByteBuffer
  package typealias OutboundIn = NIOAny

  /// The default slice: 4 KiB are at most ~230 of the smallest valid requests.
  package static let defaultSliceBytes = 4 * 1024

  private let sliceBytes: Int
  /// Bytes read from the socket that the decoder has not seen yet.
  private var held: ByteBuffer?
  /// A `read()` passed to the socket and not yet used up by a delivery.
  private var demand = true
  private var replayScheduled = false
  private var closed = false

  package init(sliceBytes: Int = HTTP1InputGate.defaultSliceBytes) {
    precondition(sliceBytes > 0)
    self.sliceBytes = sliceBytes
  }

  /// Bytes held back right now (for tests and the memory budget).
  var heldBytes: Int { self.held?.readableBytes ?? 0 }

  package func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    var bytes = Self.unwrapInboundIn(data)
    // Fast path, every ordinary request: nothing held, small read, someone asked for it.
    if self.held == nil, self.demand, bytes.readableBytes <= self.sliceBytes {
      self.demand = false
      context.fireUserInboundEventTriggered(HTTP1InputArrived())
      context.fireChannelRead(data)
      return
    }
    if self.held == nil {
      self.held = bytes
    } else {
      self.held!.writeBuffer(&bytes)
    }
    if self.demand {
      self.demand = false
      self.deliverSlice(context: context)
    }
  }

  package func read(context: ChannelHandlerContext) {
    guard !self.closed else { return }
    guard self.held != nil else {
      self.demand = true
      context.read()
      return
    }
    self.deliverSlice(context: context)
    context.fireChannelReadComplete()
    self.scheduleReplay(context: context)
  }

  package func channelInactive(context: ChannelHandlerContext) {
    // Bytes held for a closed connection can never be answered.
    self.closed = true
    self.held = nil
    context.fireChannelInactive()
  }

  package func handlerRemoved(context: ChannelHandlerContext) {
    if let held = self.held, !self.closed {
      self.held = nil
      context.fireChannelRead(Self.wrapInboundOut(held))
      context.fireChannelReadComplete()
    }
  }

  private func deliverSlice(context: ChannelHandlerContext) {
    guard var held = self.held else { return }
    let slice = held.readSlice(length: min(self.sliceBytes, held.readableBytes))!
    self.held = held.readableBytes > 0 ? held : nil
    context.fireUserInboundEventTriggered(HTTP1InputArrived())
    context.fireChannelRead(Self.wrapInboundOut(slice))
  }

  /// Asks the pipeline for the next `read()` as auto-read would, on the next loop tick (not
  /// re-entrantly: a request of many slices would otherwise recurse once per slice).
  private func scheduleReplay(context: ChannelHandlerContext) {
    guard !self.replayScheduled else { return }
    self.replayScheduled = true
    let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
    context.eventLoop.execute {
      let (gate, context) = loopBound.value
      gate.replayScheduled = false
      guard !gate.closed, context.channel.isActive else { return }
      context.pipeline.read()
    }
  }
}

@available(*, unavailable)
extension HTTP1InputGate: Sendable {}
