//===----------------------------------------------------------------------===//
// Augmenter — reusing the strings a server sees on every request instead of allocating them.
//===----------------------------------------------------------------------===//

#if canImport(Glibc)
  import Glibc  // memcmp
#elseif canImport(Darwin)
  import Darwin
#endif

/// Header names and values that arrive on (nearly) every request, kept as shared `String`s.
///
/// Swift stores strings of up to 15 UTF-8 bytes inline; longer ones allocate. The session
/// matches each longer name and value against this table (length, then `memcmp`) and shares the
/// stored string on a hit. The transport knows no application: whoever serves the connection
/// (the gRPC router, the ext_authz adapter) says which strings are worth interning.
public struct HTTP2InternedStrings: Sendable, Hashable {
  private var bytes: [[UInt8]] = []
  private var strings: [String] = []

  /// A table of `strings`; those of 15 bytes or fewer are left out (they never allocate).
  public init(_ strings: some Sequence<String>) {
    for string in strings where string.utf8.count > 15 && !self.strings.contains(string) {
      self.strings.append(string)
      self.bytes.append(Array(string.utf8))
    }
  }

  /// An empty table: every string is made anew.
  public static let none = HTTP2InternedStrings([String]())

  /// The strings kept, in the order given.
  public var all: [String] { self.strings }

  /// The string for `bytes`: a shared one when in the table, else a new one.
  func string(_ bytes: UnsafeBufferPointer<UInt8>) -> String {
    if bytes.count > 15, let base = bytes.baseAddress {
      // Indexed loops: the generic iterator allocates in debug builds (the budget test counts them).
      for index in 0..<self.bytes.count where self.bytes[index].count == bytes.count {
        let equal = self.bytes[index].withUnsafeBufferPointer { memcmp($0.baseAddress!, base, bytes.count) == 0 }
        if equal { return self.strings[index] }
      }
    }
    return String(decoding: bytes, as: UTF8.self)
  }
}
