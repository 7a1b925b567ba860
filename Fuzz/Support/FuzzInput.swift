//===----------------------------------------------------------------------===//
// Augmenter fuzzing — reading choices out of the fuzzer's bytes, and failing loudly.
//===----------------------------------------------------------------------===//

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// The fuzzer's input, consumed front to back: a few bytes steer choices (split points,
/// limits, modes), the rest is the payload. Reading past the end yields zeros, so every input
/// is usable and libFuzzer's mutations stay local.
public struct FuzzInput {
  public let bytes: [UInt8]
  public private(set) var position = 0

  public init(_ data: UnsafePointer<UInt8>?, _ size: Int) {
    self.bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
  }

  public init(_ bytes: [UInt8]) {
    self.bytes = bytes
  }

  /// Bytes not consumed yet.
  public var remaining: ArraySlice<UInt8> { self.bytes[self.position...] }

  public var isExhausted: Bool { self.position >= self.bytes.count }

  /// One byte (0 past the end).
  public mutating func byte() -> UInt8 {
    guard self.position < self.bytes.count else { return 0 }
    defer { self.position += 1 }
    return self.bytes[self.position]
  }

  /// A value in `0..<bound` from one or two bytes (bound > 0).
  public mutating func below(_ bound: Int) -> Int {
    precondition(bound > 0)
    let raw = bound <= 256 ? Int(self.byte()) : Int(self.byte()) << 8 | Int(self.byte())
    return raw % bound
  }

  public mutating func bool() -> Bool { self.byte() & 1 == 1 }

  /// Up to `count` bytes (fewer at the end).
  public mutating func take(_ count: Int) -> ArraySlice<UInt8> {
    let end = min(self.bytes.count, self.position + max(0, count))
    defer { self.position = end }
    return self.bytes[self.position..<end]
  }

  /// Everything not consumed yet.
  public mutating func rest() -> ArraySlice<UInt8> { self.take(self.bytes.count - self.position) }

  /// The remaining bytes cut into chunks whose sizes come from `sizes` (each 1...256).
  public mutating func chunks(of payload: ArraySlice<UInt8>, sizes: inout FuzzInput) -> [ArraySlice<UInt8>] {
    var out: [ArraySlice<UInt8>] = []
    var start = payload.startIndex
    while start < payload.endIndex {
      let size = sizes.isExhausted ? payload.endIndex - start : Int(sizes.byte()) + 1
      let end = min(payload.endIndex, start + size)
      out.append(payload[start..<end])
      start = end
    }
    return out
  }
}

/// Reports a broken invariant with the input that broke it and aborts, so libFuzzer records a crash
/// (and writes the input as `crash-<sha1>`).
public func fuzzFailure(
  _ message: @autoclosure () -> String,
  input: [UInt8],
  file: StaticString = #fileID,
  line: UInt = #line
) -> Never {
  let preview = input.prefix(256).map { byte -> String in
    let hex = "0123456789abcdef"
    let high = hex[hex.index(hex.startIndex, offsetBy: Int(byte >> 4))]
    let low = hex[hex.index(hex.startIndex, offsetBy: Int(byte & 0x0F))]
    return String([high, low])
  }.joined()
  let text = "\nFUZZ INVARIANT BROKEN at \(file):\(line): \(message())\ninput (\(input.count) bytes, hex, first 256): \(preview)\n"
  let bytes = Array(text.utf8)
  _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
  abort()
}

/// `fuzzFailure` unless `condition` holds.
public func fuzzCheck(
  _ condition: @autoclosure () -> Bool,
  _ message: @autoclosure () -> String,
  input: [UInt8],
  file: StaticString = #fileID,
  line: UInt = #line
) {
  if !condition() {
    fuzzFailure(message(), input: input, file: file, line: line)
  }
}
