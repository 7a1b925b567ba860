// IP addresses and CIDR ranges for `client_cidr` matches.

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// An IPv4 or IPv6 address as 128 bits; IPv4 is held as its IPv4-mapped IPv6 form
/// (`::ffff:a.b.c.d`), so an IPv4 range also matches a dual-stack listener's mapped addresses.
public struct IPAddress: Sendable, Hashable, CustomStringConvertible {
  /// The upper 64 bits.
  public let high: UInt64
  /// The lower 64 bits.
  public let low: UInt64

  private static let mappedHigh: UInt64 = 0
  private static let mappedLowPrefix: UInt64 = 0x0000_FFFF_0000_0000

  init(high: UInt64, low: UInt64) {
    self.high = high
    self.low = low
  }

  /// Whether this is an IPv4 (or IPv4-mapped) address.
  public var isIPv4: Bool {
    high == Self.mappedHigh && (low & 0xFFFF_FFFF_0000_0000) == Self.mappedLowPrefix
  }

  /// Parses a bare address: `192.0.2.1`, `2001:db8::1` (no brackets, port or zone).
  public static func parse<S: StringProtocol>(_ text: S) -> IPAddress? {
    let string = String(text)
    if string.utf8.contains(UInt8(ascii: ":")) {
      var raw = in6_addr()
      guard inet_pton(AF_INET6, string, &raw) == 1 else { return nil }
      // Network byte order, read in place (no copy: this runs on the hot path).
      return withUnsafeBytes(of: &raw) { bytes in
        var high: UInt64 = 0
        var low: UInt64 = 0
        for index in 0..<8 { high = high << 8 | UInt64(bytes[index]) }
        for index in 8..<16 { low = low << 8 | UInt64(bytes[index]) }
        return IPAddress(high: high, low: low)
      }
    }
    var raw = in_addr()
    guard inet_pton(AF_INET, string, &raw) == 1 else { return nil }
    let v4 = withUnsafeBytes(of: &raw) { bytes in
      UInt64(bytes[0]) << 24 | UInt64(bytes[1]) << 16 | UInt64(bytes[2]) << 8 | UInt64(bytes[3])
    }
    return IPAddress(high: mappedHigh, low: mappedLowPrefix | v4)
  }

  /// Parses an address as clients and proxies write it: also `[2001:db8::1]:443`,
  /// `192.0.2.1:5678` and `fe80::1%eth0`, surrounded by spaces.
  public static func parseLenient<S: StringProtocol>(_ text: S) -> IPAddress? {
    var candidate = Substring(text)
    while let first = candidate.first, first == " " || first == "\t" { candidate = candidate.dropFirst() }
    while let last = candidate.last, last == " " || last == "\t" { candidate = candidate.dropLast() }
    if candidate.first == "[" {
      guard let close = candidate.firstIndex(of: "]") else { return nil }
      candidate = candidate[candidate.index(after: candidate.startIndex)..<close]
    } else if let colon = candidate.firstIndex(of: ":"), candidate[candidate.index(after: colon)...].firstIndex(of: ":") == nil {
      // Exactly one colon: IPv4 with a port.
      candidate = candidate[..<colon]
    }
    if let percent = candidate.firstIndex(of: "%") { candidate = candidate[..<percent] }
    return parse(candidate)
  }

  public var description: String {
    if isIPv4 {
      let v4 = low & 0xFFFF_FFFF
      return "\(v4 >> 24).\(v4 >> 16 & 0xFF).\(v4 >> 8 & 0xFF).\(v4 & 0xFF)"
    }
    let groups = (0..<8).map { index -> String in
      let word = index < 4 ? high : low
      return String(word >> (UInt64(3 - index % 4) * 16) & 0xFFFF, radix: 16)
    }
    return groups.joined(separator: ":")
  }
}

/// Why a CIDR range could not be read.
public struct CIDRError: Error, Sendable, Hashable, CustomStringConvertible {
  /// What is wrong.
  public var message: String
  public var description: String { message }
}

/// An address range, `10.0.0.0/8` or `2001:db8::/32`; a bare address is a range of one.
public struct CIDR: Sendable, Hashable, CustomStringConvertible {
  /// The first address of the range.
  public let network: IPAddress
  /// The prefix length as written (0-32 for IPv4, 0-128 for IPv6).
  public let prefixLength: Int
  private let maskHigh: UInt64
  private let maskLow: UInt64

  /// Parses `text`. Host bits set below the prefix (`10.1.2.3/8`) are refused: such a range is
  /// usually a typo, and the message names the network meant.
  public init(_ text: String) throws(CIDRError) {
    let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
    guard let address = IPAddress.parse(parts[0]) else {
      throw CIDRError(message: "expected an IPv4 or IPv6 address or range like 10.0.0.0/8 or 2001:db8::/32, got \"\(text)\"")
    }
    let width = address.isIPv4 && !parts[0].contains(":") ? 32 : 128
    var length = width
    if parts.count == 2 {
      guard let value = Int(parts[1]), parts[1].allSatisfy(\.isNumber), (0...width).contains(value) else {
        throw CIDRError(message: "the prefix length must be a number from 0 to \(width), got \"\(parts[1])\"")
      }
      length = value
    }
    let bits = width == 32 ? 96 + length : length
    let maskHigh: UInt64 = bits >= 64 ? .max : (bits == 0 ? 0 : .max << UInt64(64 - bits))
    let maskLow: UInt64 = bits <= 64 ? 0 : (bits == 128 ? .max : .max << UInt64(128 - bits))
    if address.high & ~maskHigh != 0 || address.low & ~maskLow != 0 {
      let network = IPAddress(high: address.high & maskHigh, low: address.low & maskLow)
      throw CIDRError(message: "\"\(text)\" has host bits set; did you mean \(network)/\(length)?")
    }
    self.network = address
    self.prefixLength = length
    self.maskHigh = maskHigh
    self.maskLow = maskLow
  }

  /// Whether `address` is in the range.
  public func contains(_ address: IPAddress) -> Bool {
    address.high & maskHigh == network.high && address.low & maskLow == network.low
  }

  public var description: String { "\(network)/\(prefixLength)" }
}
