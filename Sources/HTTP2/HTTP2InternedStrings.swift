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
///
/// The bytes of every entry live in one contiguous array, so a lookup (three per request header,
/// on the hot path) touches one buffer: no per-entry array to retain.
public struct HTTP2InternedStrings: Sendable, Hashable {
  /// Every entry's UTF-8 bytes, one after the other.
  private var bytes: [UInt8] = []
  /// Where each entry starts in `bytes`, and its length.
  private var spans: [(start: Int, count: Int)] = []
  private var strings: [String] = []

  /// A table of `strings`; those of 15 bytes or fewer are left out (they never allocate).
  public init(_ strings: some Sequence<String>) {
    for string in strings where string.utf8.count > 15 && !self.strings.contains(string) {
      self.spans.append((self.bytes.count, string.utf8.count))
      self.bytes.append(contentsOf: string.utf8)
      self.strings.append(string)
    }
  }

  /// An empty table: every string is made anew.
  public static let none = HTTP2InternedStrings([String]())

  /// The string for `bytes`: a shared one when in the table, else a new one.
  func string(_ bytes: UnsafeBufferPointer<UInt8>) -> String {
    if bytes.count > 15, let base = bytes.baseAddress {
      let hit: Int? = self.bytes.withUnsafeBufferPointer { table in
        // Indexed loop: the generic iterator allocates in debug builds (the budget test counts them).
        for index in 0..<self.spans.count where self.spans[index].count == bytes.count {
          if memcmp(table.baseAddress! + self.spans[index].start, base, bytes.count) == 0 { return index }
        }
        return nil
      }
      if let hit { return self.strings[hit] }
    }
    return String(decoding: bytes, as: UTF8.self)
  }

  /// Equal when they keep the same strings in the same order.
  public static func == (lhs: HTTP2InternedStrings, rhs: HTTP2InternedStrings) -> Bool {
    lhs.strings == rhs.strings
  }

  /// Hashes the strings kept.
  public func hash(into hasher: inout Hasher) {
    hasher.combine(self.strings)
  }
}
