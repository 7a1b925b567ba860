//===----------------------------------------------------------------------===//
// Augmenter — gRPC length-prefixed message framing (grpc/grpc doc/PROTOCOL-HTTP2.md).
//===----------------------------------------------------------------------===//

public import NIOCore

/// Splits a stream of DATA bytes into gRPC messages: 1 flag byte, 4-byte big-endian length, payload.
///
/// Frame boundaries mean nothing: bytes may arrive split anywhere or with several messages
/// coalesced, so input is appended and complete messages are taken out one by one.
public struct GRPCMessageDeframer: Sendable {
  private var buffer: ByteBuffer
  private let maxMessageBytes: Int
  private let allocator: ByteBufferAllocator
  /// `buffer` is the caller's buffer (often a view of a read buffer), not storage of our own.
  private var borrowed = false

  /// Creates a deframer that refuses messages over `maxMessageBytes`.
  public init(maxMessageBytes: Int, allocator: ByteBufferAllocator = ByteBufferAllocator()) {
    self.maxMessageBytes = maxMessageBytes
    self.allocator = allocator
    self.buffer = allocator.buffer(capacity: 0)
  }

  /// Adds received bytes. When nothing is pending they are kept as given, without a copy.
  public mutating func append(_ bytes: ByteBuffer) {
    if self.buffer.readableBytes == 0 {
      self.buffer = bytes
      self.borrowed = true
    } else {
      var bytes = bytes
      // Writing into a borrowed view copies it into storage of our own first (copy on write).
      self.buffer.writeBuffer(&bytes)
      self.borrowed = false
    }
  }

  /// Lets go of the buffer `append` was given, keeping only the pending bytes (copied into
  /// storage of our own). A stream that outlives one read calls this after taking its messages:
  /// a few pending bytes must not pin a whole read buffer until the next DATA frame.
  public mutating func releaseBorrowedBuffer() {
    guard self.borrowed else { return }
    self.borrowed = false
    var pending = self.allocator.buffer(capacity: self.buffer.readableBytes)
    pending.writeImmutableBuffer(self.buffer)
    self.buffer = pending
  }

  /// Bytes received but not yet part of a complete message.
  public var pendingBytes: Int { self.buffer.readableBytes }

  /// The next complete message, or nil if more bytes are needed.
  /// - Throws: `GRPCStatus` UNIMPLEMENTED for a compressed message, INVALID_ARGUMENT for a bad
  ///   flag, RESOURCE_EXHAUSTED for a message over the limit.
  public mutating func next() throws(GRPCStatus) -> ByteBuffer? {
    guard let flag = self.buffer.getInteger(at: self.buffer.readerIndex, as: UInt8.self),
      let length = self.buffer.getInteger(at: self.buffer.readerIndex + 1, as: UInt32.self)
    else { return nil }
    switch flag {
    case 0: break
    case 1:
      throw GRPCStatus(
        .unimplemented,
        "compressed messages are not supported: send with the compressed flag 0 and no grpc-encoding"
      )
    default:
      throw GRPCStatus(.invalidArgument, "invalid gRPC frame: compressed flag is \(flag), must be 0 or 1")
    }
    if Int(length) > self.maxMessageBytes {
      throw GRPCStatus(
        .resourceExhausted,
        "message of \(length) bytes exceeds the maximum of \(self.maxMessageBytes) bytes"
      )
    }
    guard self.buffer.readableBytes >= 5 + Int(length) else { return nil }
    self.buffer.moveReaderIndex(forwardBy: 5)
    return self.buffer.readSlice(length: Int(length))
  }

  /// The single message of a unary request whose body is complete.
  /// - Throws: as `next()`, plus INVALID_ARGUMENT when there is no message, a truncated one, or more than one.
  public static func unaryMessage(from body: ByteBuffer, maxMessageBytes: Int) throws(GRPCStatus) -> ByteBuffer {
    var deframer = GRPCMessageDeframer(maxMessageBytes: maxMessageBytes)
    deframer.append(body)
    guard let message = try deframer.next() else {
      if body.readableBytes == 0 {
        throw GRPCStatus(.invalidArgument, "request body is empty: a unary call needs exactly one message")
      }
      if body.readableBytes < 5 {
        throw GRPCStatus(
          .invalidArgument,
          "invalid gRPC frame: \(body.readableBytes) byte(s) where a 5-byte message prefix was expected"
        )
      }
      let declared = body.getInteger(at: body.readerIndex + 1, as: UInt32.self) ?? 0
      throw GRPCStatus(
        .invalidArgument,
        "invalid gRPC frame: prefix declares \(declared) bytes but only \(body.readableBytes - 5) followed"
      )
    }
    if deframer.pendingBytes > 0 {
      throw GRPCStatus(
        .invalidArgument,
        "unary call carries more than one message (\(deframer.pendingBytes) bytes after the first)"
      )
    }
    return message
  }
}

/// Builds length-prefixed messages.
public enum GRPCMessageFramer {
  /// Writes the 5-byte prefix and the message into `buffer`.
  public static func write(_ message: some Collection<UInt8>, into buffer: inout ByteBuffer) {
    buffer.writeInteger(UInt8(0))
    buffer.writeInteger(UInt32(message.count))
    buffer.writeBytes(message)
  }

  /// A new buffer holding `message` framed.
  public static func framed(_ message: some Collection<UInt8>, allocator: ByteBufferAllocator) -> ByteBuffer {
    var buffer = allocator.buffer(capacity: message.count + 5)
    Self.write(message, into: &buffer)
    return buffer
  }
}

/// `grpc-message` encoding: UTF-8, percent-encoding everything outside 0x20...0x7E and `%` itself.
public enum GRPCMessageEncoding {
  /// Percent-encodes a status message for the `grpc-message` trailer.
  public static func percentEncode(_ message: String) -> String {
    let utf8 = message.utf8
    if utf8.allSatisfy({ $0 >= 0x20 && $0 <= 0x7E && $0 != UInt8(ascii: "%") }) {
      return message
    }
    let hex = Array("0123456789ABCDEF".utf8)
    var out: [UInt8] = []
    out.reserveCapacity(utf8.count * 3)
    for byte in utf8 {
      if byte >= 0x20 && byte <= 0x7E && byte != UInt8(ascii: "%") {
        out.append(byte)
      } else {
        out.append(UInt8(ascii: "%"))
        out.append(hex[Int(byte >> 4)])
        out.append(hex[Int(byte & 0x0F)])
      }
    }
    return String(decoding: out, as: UTF8.self)
  }

  /// Decodes a `grpc-message` value; malformed escapes are kept as they are.
  public static func percentDecode(_ value: String) -> String {
    let bytes = Array(value.utf8)
    var out: [UInt8] = []
    out.reserveCapacity(bytes.count)
    var index = 0
    while index < bytes.count {
      if bytes[index] == UInt8(ascii: "%"), index + 2 < bytes.count,
        let high = Self.hexValue(bytes[index + 1]), let low = Self.hexValue(bytes[index + 2])
      {
        out.append(high << 4 | low)
        index += 3
      } else {
        out.append(bytes[index])
        index += 1
      }
    }
    return String(decoding: out, as: UTF8.self)
  }

  private static func hexValue(_ byte: UInt8) -> UInt8? {
    switch byte {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
    default: nil
    }
  }
}
