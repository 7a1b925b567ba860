//===----------------------------------------------------------------------===//
// Augmenter — the state of one bidirectional-streaming gRPC call, without I/O.
//===----------------------------------------------------------------------===//

public import NIOCore

/// What one bidirectional-streaming call may do next, given what happened to it.
///
/// It does no I/O and calls nobody: the transport's events go in (bytes, the client's end, the
/// stream's close), the server's intents are asked about (send, finish), and what comes out says
/// what to do. `GRPCServerStream` drives it; tests drive it directly.
///
/// ```
///            receiveEnd            finish
///   open ───────────────▶ requestEnded ───────▶ finished ──▶ closed
///     │                                            ▲
///     └────────────────── finish ──────────────────┘
/// ```
/// Any state goes to `closed` when the stream closes; closing before `finished` is a
/// cancellation (the client reset the stream, or the connection went away).
public struct GRPCStreamStateMachine: Sendable {
  /// Where the call stands.
  public enum State: Sendable, Equatable {
    /// Both sides may send.
    case open
    /// The client ended its side; the server may still send, and must finish.
    case requestEnded
    /// The server sent its status; nothing more goes either way.
    case finished
    /// The stream is gone.
    case closed
  }

  /// The outcome of asking for the next request message.
  public enum NextMessage: Sendable {
    /// A complete message (a view of received bytes: copy what is kept past the call).
    case message(ByteBuffer)
    /// No complete message yet.
    case needMoreBytes
    /// The bytes break gRPC framing or the size limit: finish the call with this status.
    case fail(GRPCStatus)
  }

  /// The outcome of the client ending its side.
  public enum End: Sendable, Equatable {
    /// Tell the handler: no more messages will come.
    case deliverEnd
    /// The client ended in the middle of a message: finish the call with this status.
    case fail(GRPCStatus)
    /// Nothing to do (the call is already finished or closed).
    case ignore
  }

  /// Where the call stands.
  public private(set) var state: State = .open
  private var deframer: GRPCMessageDeframer

  /// Creates the state of a new call that refuses request messages over `maxMessageBytes`.
  public init(maxMessageBytes: Int, allocator: ByteBufferAllocator = ByteBufferAllocator()) {
    self.deframer = GRPCMessageDeframer(maxMessageBytes: maxMessageBytes, allocator: allocator)
  }

  /// Received request bytes that are not yet a complete message.
  public var heldBytes: Int { self.deframer.pendingBytes }

  /// Request bytes arrived. They are kept only while the client may still send (`open`).
  public mutating func receive(_ bytes: ByteBuffer) {
    guard self.state == .open else { return }
    self.deframer.append(bytes)
  }

  /// The next complete request message, if the call is open and one is complete.
  public mutating func nextMessage() -> NextMessage {
    guard self.state == .open else { return .needMoreBytes }
    do {
      guard let message = try self.deframer.next() else {
        return .needMoreBytes
      }
      return .message(message)
    } catch {
      return .fail(error)
    }
  }

  /// Done taking messages from the bytes received so far: keep only the pending ones.
  public mutating func doneReceiving() {
    self.deframer.releaseBorrowedBuffer()
  }

  /// The client ended its side (END_STREAM).
  public mutating func receiveEnd() -> End {
    guard self.state == .open else { return .ignore }
    if self.deframer.pendingBytes > 0 {
      return .fail(
        GRPCStatus(
          .invalidArgument,
          "the request stream ended inside a message (\(self.deframer.pendingBytes) byte(s) of an unfinished message)"))
    }
    self.state = .requestEnded
    return .deliverEnd
  }

  /// Whether a response message may be sent now.
  public var maySend: Bool { self.state == .open || self.state == .requestEnded }

  /// The server finishes the call; true if it may (the first time, before the stream closed).
  public mutating func finish() -> Bool {
    guard self.maySend else { return false }
    self.state = .finished
    self.deframer = GRPCMessageDeframer(maxMessageBytes: 0)
    return true
  }

  /// The stream closed; true if that cancels the call (it closed before the server finished).
  public mutating func closed() -> Bool {
    let cancelled = self.maySend
    self.state = .closed
    return cancelled
  }
}
