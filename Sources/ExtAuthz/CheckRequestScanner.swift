//===----------------------------------------------------------------------===//
// Augmenter — reading the few CheckRequest fields a check needs straight from the wire bytes.
//===----------------------------------------------------------------------===//

import AugmenterCore
import NIOCore

/// Reads a serialized `envoy.service.auth.v3.CheckRequest` without materialising it.
///
/// A full SwiftProtobuf decode builds every message, map and string of the request (the
/// `headers` dictionary alone was 31 % of a check's CPU), though a check reads a handful of
/// fields. The scanner walks the wire format once: it validates the whole message as the
/// SwiftProtobuf decode would (tags, varints, lengths, nesting, UTF-8 of every `string` field in
/// the schema, known or not read) and records only byte ranges of the fields
/// `ExtAuthzCheckService.attributes(of:readingHeaders:)` reads. Strings are made later, only for
/// the fields actually read.
///
/// It is deliberately narrower than the decoder: anything unusual (a group, a known field with
/// an unexpected wire type, a tag or varint past SwiftProtobuf's limits, nesting deeper than
/// `maxDepth`, invalid UTF-8, truncation) makes `scan` return nil, and the caller falls back to
/// the SwiftProtobuf decode, which then accepts it or produces its usual error. So whatever the
/// scanner accepts, SwiftProtobuf accepts too, with the same field values (property-tested in
/// `CheckRequestScannerTests`).
///
/// Merge semantics follow protobuf's: a singular field seen twice keeps the last value, a
/// message seen twice is merged, map entries and repeated messages accumulate in order, a oneof
/// case replaced by another starts over.
enum CheckRequestScanner {
  /// Nesting accepted before falling back (SwiftProtobuf's limit is 100; Envoy's requests use 6).
  static let maxDepth = 48

  /// The fields of `message` the check reads, or nil when the SwiftProtobuf decode must decide.
  /// - Parameter readingHeaders: collect every header (#3 entries, #13 entries); without it only
  ///   `x-request-id` is located.
  static func scan(_ message: ByteBuffer, readingHeaders: Bool) -> ScannedCheckRequest? {
    var scanned = ScannedCheckRequest(message: message, collectingHeaders: readingHeaders)
    let accepted = message.withUnsafeReadableBytes { bytes -> Bool in
      var reader = WireReader(bytes: bytes)
      do {
        try reader.checkRequest(into: &scanned)
        return true
      } catch {
        return false
      }
    }
    return accepted ? scanned : nil
  }

  /// Well-formed UTF-8, by the parser SwiftProtobuf's `utf8ToString` uses; all-ASCII first.
  static func isValidUTF8(_ bytes: UnsafeRawBufferPointer) -> Bool {
    if Self.isASCII(bytes) { return true }
    var parser = Unicode.UTF8.ForwardParser()
    var iterator = bytes.makeIterator()
    while true {
      switch parser.parseScalar(from: &iterator) {
      case .valid: continue
      case .error: return false
      case .emptyInput: return true
      }
    }
  }
}

extension CheckRequestScanner {
  /// No byte has its high bit set; eight bytes at a time.
  @inline(__always)
  static func isASCII(_ bytes: UnsafeRawBufferPointer) -> Bool {
    var index = 0
    let count = bytes.count
    while index + 8 <= count {
      if bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self) & 0x8080_8080_8080_8080 != 0 {
        return false
      }
      index += 8
    }
    while index < count {
      if bytes[index] & 0x80 != 0 { return false }
      index += 1
    }
    return true
  }
}

/// The result of a scan: byte ranges into the message, turned into strings on demand.
struct ScannedCheckRequest {
  /// A `map<string, string>` entry; nil for a key or value that was absent (the empty string).
  struct MapEntry {
    var key: Range<Int>?
    var value: Range<Int>?
  }

  /// A `config.core.v3.HeaderValue` (`header_map` #13 entry).
  struct HeaderValueEntry {
    var key: Range<Int>?
    var value: Range<Int>?
    var rawValue: Range<Int>?
  }

  /// `attributes.source|destination.address`: which oneof case, and the socket address.
  struct PeerAddress {
    var isSocketAddress = false
    var address: Range<Int>?
  }

  let message: ByteBuffer
  let collectingHeaders: Bool
  var method: Range<Int>?
  var path: Range<Int>?
  var host: Range<Int>?
  var scheme: Range<Int>?
  var source = PeerAddress()
  var destination = PeerAddress()
  /// Entries of `http.headers` (#3) seen, duplicates included.
  var headerEntryCount = 0
  /// The value of the last #3 entry keyed `x-request-id` (the one a decoded map keeps).
  var headersRequestID: MapEntry?
  /// Every #3 entry, in order; only when collecting headers.
  var headerEntries: [MapEntry] = []
  /// `http.header_map` (#13) was present, even empty.
  var hasHeaderMap = false
  /// The first #13 entry keyed exactly `x-request-id`.
  var headerMapRequestID: HeaderValueEntry?
  /// Every #13 entry, in order; only when collecting headers.
  var headerMapEntries: [HeaderValueEntry] = []
  /// Every `context_extensions` (#10) entry, in order (empty, and unallocated, when absent).
  var contextExtensionEntries: [MapEntry] = []

  init(message: ByteBuffer, collectingHeaders: Bool) {
    self.message = message
    self.collectingHeaders = collectingHeaders
  }

  /// The text of a range, or "" when absent. Ranges of `string` fields were validated as UTF-8;
  /// `bytes` ones are repaired as `String(decoding:)` does.
  func string(_ range: Range<Int>?) -> String {
    guard let range, !range.isEmpty else { return "" }
    return self.message.withUnsafeReadableBytes { bytes in
      String(decoding: UnsafeRawBufferPointer(rebasing: bytes[range]), as: UTF8.self)
    }
  }

  /// A map's entries as a dictionary; a later entry wins a duplicated key, as in a decode.
  func dictionary(_ entries: [MapEntry]) -> [String: String] {
    var map = [String: String](minimumCapacity: entries.count)
    for entry in entries {
      map[self.string(entry.key)] = self.string(entry.value)
    }
    return map
  }
}

/// The scan failed or met something it leaves to the SwiftProtobuf decode.
private struct Unsupported: Error {}

/// A cursor over the message bytes, bounded by the message being read.
///
/// Each message reader loops over its fields with `tag()` until the end of its bounds; `enter`
/// narrows the bounds to a nested message (one level deeper) and `leave` restores them.
private struct WireReader {
  private static let varint: UInt8 = 0
  private static let fixed64: UInt8 = 1
  private static let lengthDelimited: UInt8 = 2
  private static let fixed32: UInt8 = 5

  private let bytes: UnsafeRawBufferPointer
  private var position = 0
  private var end: Int
  private var depth = 0

  init(bytes: UnsafeRawBufferPointer) {
    self.bytes = bytes
    self.end = bytes.count
  }

  // MARK: - The messages of the CheckRequest tree

  mutating func checkRequest(into scanned: inout ScannedCheckRequest) throws(Unsupported) {
    while let (field, wire) = try self.tag() {
      if field == 1 {
        let outer = try self.enter(wire)
        try self.attributeContext(&scanned)
        try self.leave(outer)
      } else {
        try self.skip(wire)
      }
    }
  }

  private mutating func attributeContext(_ scanned: inout ScannedCheckRequest) throws(Unsupported) {
    while let (field, wire) = try self.tag() {
      switch field {
      case 1, 2:
        let outer = try self.enter(wire)
        if field == 1 {
          try self.peer(&scanned.source)
        } else {
          try self.peer(&scanned.destination)
        }
        try self.leave(outer)
      case 4:
        let outer = try self.enter(wire)
        try self.request(&scanned)
        try self.leave(outer)
      case 10:
        scanned.contextExtensionEntries.append(try self.stringMapEntry(wire))
      case 11, 13:  // metadata_context, route_metadata_context
        let outer = try self.enter(wire)
        try self.metadata()
        try self.leave(outer)
      case 12:  // tls_session: string sni = 1
        let outer = try self.enter(wire)
        try self.stringFields(through: 1)
        try self.leave(outer)
      default:
        try self.skip(wire)
      }
    }
  }

  private mutating func peer(_ peer: inout ScannedCheckRequest.PeerAddress) throws(Unsupported) {
    while let (field, wire) = try self.tag() {
      switch field {
      case 1:
        let outer = try self.enter(wire)
        try self.address(&peer)
        try self.leave(outer)
      case 2, 4, 5: _ = try self.string(wire)
      case 3: _ = try self.stringMapEntry(wire)
      default: try self.skip(wire)
      }
    }
  }

  /// `config.core.v3.Address`: a oneof of socket_address (1), pipe (2), envoy_internal_address (3).
  private mutating func address(_ peer: inout ScannedCheckRequest.PeerAddress) throws(Unsupported) {
    while let (field, wire) = try self.tag() {
      switch field {
      case 1:
        let outer = try self.enter(wire)
        if !peer.isSocketAddress {
          // Another case was set, or none: this socket address starts empty.
          peer = ScannedCheckRequest.PeerAddress(isSocketAddress: true, address: nil)
        }
        try self.socketAddress(&peer)
        try self.leave(outer)
      case 2:  // Pipe: string path = 1, uint32 mode = 2
        let outer = try self.enter(wire)
        while let (field, wire) = try self.tag() {
          switch field {
          case 1: _ = try self.string(wire)
          case 2: try self.varintField(wire)
          default: try self.skip(wire)
          }
        }
        try self.leave(outer)
        peer = ScannedCheckRequest.PeerAddress()
      case 3:  // EnvoyInternalAddress: string server_listener_name = 1, string endpoint_id = 2
        let outer = try self.enter(wire)
        try self.stringFields(through: 2)
        try self.leave(outer)
        peer = ScannedCheckRequest.PeerAddress()
      default:
        try self.skip(wire)
      }
    }
  }

  private mutating func socketAddress(_ peer: inout ScannedCheckRequest.PeerAddress) throws(Unsupported) {
    while let (field, wire) = try self.tag() {
      switch field {
      case 1, 3, 6: try self.varintField(wire)  // protocol, port_value, ipv4_compat
      case 2: peer.address = try self.string(wire)
      case 4, 5, 7: _ = try self.string(wire)  // named_port, resolver_name, network_namespace_filepath
      default: try self.skip(wire)
      }
    }
  }

  private mutating func request(_ scanned: inout ScannedCheckRequest) throws(Unsupported) {
    while let (field, wire) = try self.tag() {
      switch field {
      case 1:  // google.protobuf.Timestamp: int64 seconds = 1, int32 nanos = 2
        let outer = try self.enter(wire)
        while let (field, wire) = try self.tag() {
          if field == 1 || field == 2 {
            try self.varintField(wire)
          } else {
            try self.skip(wire)
          }
        }
        try self.leave(outer)
      case 2:
        let outer = try self.enter(wire)
        try self.httpRequest(&scanned)
        try self.leave(outer)
      default:
        try self.skip(wire)
      }
    }
  }

  private mutating func httpRequest(_ scanned: inout ScannedCheckRequest) throws(Unsupported) {
    while let (field, wire) = try self.tag() {
      switch field {
      case 2: scanned.method = try self.string(wire)
      case 4: scanned.path = try self.string(wire)
      case 5: scanned.host = try self.string(wire)
      case 6: scanned.scheme = try self.string(wire)
      case 1, 7, 8, 10, 11: _ = try self.string(wire)  // id, query, fragment, protocol, body
      case 9: try self.varintField(wire)  // size
      case 12: _ = try self.lengthDelimited(wire)  // raw_body
      case 3:
        let entry = try self.stringMapEntry(wire)
        scanned.headerEntryCount += 1
        if scanned.collectingHeaders {
          scanned.headerEntries.append(entry)
        } else if self.bytes(entry.key, equal: "x-request-id") {
          scanned.headersRequestID = entry  // the last one wins, as in a decoded map
        }
      case 13:
        scanned.hasHeaderMap = true
        let outer = try self.enter(wire)
        try self.headerMap(&scanned)
        try self.leave(outer)
      default:
        try self.skip(wire)
      }
    }
  }

  /// `config.core.v3.HeaderMap`: repeated HeaderValue headers = 1.
  private mutating func headerMap(_ scanned: inout ScannedCheckRequest) throws(Unsupported) {
    while let (field, wire) = try self.tag() {
      guard field == 1 else {
        try self.skip(wire)
        continue
      }
      // HeaderValue: string key = 1, string value = 2, bytes raw_value = 3.
      var entry = ScannedCheckRequest.HeaderValueEntry()
      let outer = try self.enter(wire)
      while let (field, wire) = try self.tag() {
        switch field {
        case 1: entry.key = try self.string(wire)
        case 2: entry.value = try self.string(wire)
        case 3: entry.rawValue = try self.lengthDelimited(wire)
        default: try self.skip(wire)
        }
      }
      try self.leave(outer)
      if scanned.collectingHeaders {
        scanned.headerMapEntries.append(entry)
      } else if scanned.headerMapRequestID == nil, self.bytes(entry.key, equal: "x-request-id") {
        scanned.headerMapRequestID = entry
      }
    }
  }

  /// `config.core.v3.Metadata`: map<string, Struct> (1), map<string, Any> (2). Validated only.
  private mutating func metadata() throws(Unsupported) {
    while let (field, wire) = try self.tag() {
      switch field {
      case 1: try self.messageMapEntry(wire, .protobufStruct)
      case 2: try self.messageMapEntry(wire, .protobufAny)
      default: try self.skip(wire)
      }
    }
  }

  /// The message types reached through maps and the Struct/Value/ListValue recursion.
  private enum WellKnown {
    case protobufStruct, protobufValue, protobufListValue, protobufAny
  }

  /// One of the well-known messages, within its bounds.
  private mutating func wellKnown(_ type: WellKnown) throws(Unsupported) {
    while let (field, wire) = try self.tag() {
      switch (type, field) {
      case (.protobufStruct, 1):  // map<string, Value> fields = 1
        try self.messageMapEntry(wire, .protobufValue)
      case (.protobufValue, 1), (.protobufValue, 4):  // null_value, bool_value
        try self.varintField(wire)
      case (.protobufValue, 2):  // number_value: double
        guard wire == Self.fixed64 else { throw Unsupported() }
        try self.skip(wire)
      case (.protobufValue, 3):  // string_value
        _ = try self.string(wire)
      case (.protobufValue, 5):  // struct_value
        try self.nested(wire, .protobufStruct)
      case (.protobufValue, 6):  // list_value
        try self.nested(wire, .protobufListValue)
      case (.protobufListValue, 1):  // repeated Value values = 1
        try self.nested(wire, .protobufValue)
      case (.protobufAny, 1):  // type_url
        _ = try self.string(wire)
      case (.protobufAny, 2):  // value: bytes
        _ = try self.lengthDelimited(wire)
      default:
        try self.skip(wire)
      }
    }
  }

  private mutating func nested(_ wire: UInt8, _ type: WellKnown) throws(Unsupported) {
    let outer = try self.enter(wire)
    try self.wellKnown(type)
    try self.leave(outer)
  }

  /// A message whose fields 1 through `last` are strings, the rest unknown.
  private mutating func stringFields(through last: Int) throws(Unsupported) {
    while let (field, wire) = try self.tag() {
      if field <= last {
        _ = try self.string(wire)
      } else {
        try self.skip(wire)
      }
    }
  }

  // MARK: - Fields

  /// Narrows the bounds to the nested message of a length-delimited field, one level deeper;
  /// returns the outer bounds for `leave`.
  @inline(__always)
  private mutating func enter(_ wire: UInt8) throws(Unsupported) -> Int {
    let range = try self.lengthDelimited(wire)
    guard self.depth < CheckRequestScanner.maxDepth else { throw Unsupported() }
    self.depth += 1
    let outerEnd = self.end
    self.position = range.lowerBound
    self.end = range.upperBound
    return outerEnd
  }

  /// Back to the enclosing message, once the nested one was read to its end.
  @inline(__always)
  private mutating func leave(_ outerEnd: Int) throws(Unsupported) {
    guard self.position == self.end else { throw Unsupported() }
    self.depth -= 1
    self.end = outerEnd
  }

  /// A `map<string, string>` entry (key 1, value 2; other fields skipped, as a decode does).
  /// Map entries do not count towards the decoder's depth.
  @inline(__always)
  private mutating func stringMapEntry(_ wire: UInt8) throws(Unsupported) -> ScannedCheckRequest.MapEntry {
    let outer = try self.enter(wire)
    self.depth -= 1
    var entry = ScannedCheckRequest.MapEntry()
    while let (field, wire) = try self.tag() {
      switch field {
      case 1: entry.key = try self.string(wire)
      case 2: entry.value = try self.string(wire)
      default: try self.skip(wire)
      }
    }
    self.depth += 1
    try self.leave(outer)
    return entry
  }

  /// A `map<string, Message>` entry: the key a string, the value a message of type `value`.
  private mutating func messageMapEntry(_ wire: UInt8, _ value: WellKnown) throws(Unsupported) {
    let outer = try self.enter(wire)
    self.depth -= 1
    while let (field, wire) = try self.tag() {
      switch field {
      case 1: _ = try self.string(wire)
      case 2: try self.nested(wire, value)
      default: try self.skip(wire)
      }
    }
    self.depth += 1
    try self.leave(outer)
  }

  /// A `string` field: length-delimited and valid UTF-8, as SwiftProtobuf checks it.
  @inline(__always)
  private mutating func string(_ wire: UInt8) throws(Unsupported) -> Range<Int> {
    let range = try self.lengthDelimited(wire)
    guard CheckRequestScanner.isValidUTF8(UnsafeRawBufferPointer(rebasing: self.bytes[range])) else { throw Unsupported() }
    return range
  }

  /// An integer, bool or enum field: wire type varint.
  @inline(__always)
  private mutating func varintField(_ wire: UInt8) throws(Unsupported) {
    guard wire == Self.varint else { throw Unsupported() }
    _ = try self.varint()
  }

  /// The body of a length-delimited field (wire type 2), which must fit in the current message.
  @inline(__always)
  private mutating func lengthDelimited(_ wire: UInt8) throws(Unsupported) -> Range<Int> {
    guard wire == Self.lengthDelimited else { throw Unsupported() }
    let length = try self.varint()
    guard length < 0x7fff_ffff, length <= UInt64(self.end - self.position) else { throw Unsupported() }
    let start = self.position
    self.position += Int(length)
    return start..<self.position
  }

  /// Skips a field of wire type varint, fixed64, length-delimited or fixed32.
  @inline(__always)
  private mutating func skip(_ wire: UInt8) throws(Unsupported) {
    switch wire {
    case Self.varint: _ = try self.varint()
    case Self.fixed64: try self.advance(8)
    case Self.lengthDelimited: _ = try self.lengthDelimited(wire)
    case Self.fixed32: try self.advance(4)
    default: throw Unsupported()  // groups: left to the decoder
    }
  }

  private mutating func advance(_ count: Int) throws(Unsupported) {
    guard self.end - self.position >= count else { throw Unsupported() }
    self.position += count
  }

  // MARK: - Wire primitives

  /// The next tag, or nil at the end of the current message.
  ///
  /// Accepts what SwiftProtobuf's `nextFieldNumber` accepts, or less: at most 5 bytes (the last
  /// one at most 15), a field number above 0, and a wire type of varint, fixed64,
  /// length-delimited or fixed32 (groups and the undefined types 6 and 7 go to the decoder).
  @inline(__always)
  private mutating func tag() throws(Unsupported) -> (Int, UInt8)? {
    guard self.position < self.end else { return nil }
    let first = self.bytes[self.position]
    if first & 0x80 == 0 {
      // One byte: fields 1 to 15, all the schema's but none above.
      let field = Int(first >> 3)
      let wire = first & 7
      guard field > 0, wire == Self.varint || wire == Self.fixed64 || wire == Self.lengthDelimited || wire == Self.fixed32
      else { throw Unsupported() }
      self.position += 1
      return (field, wire)
    }
    var value: UInt64 = 0
    var shift: UInt64 = 0
    for index in 0..<5 {
      guard self.position < self.end else { throw Unsupported() }
      let byte = self.bytes[self.position]
      self.position += 1
      if index == 4, byte > 15 { throw Unsupported() }
      value |= UInt64(byte & 0x7F) << shift
      if byte & 0x80 == 0 { break }
      shift += 7
    }
    let field = Int(value >> 3)
    let wire = UInt8(value & 7)
    guard field > 0, wire == Self.varint || wire == Self.fixed64 || wire == Self.lengthDelimited || wire == Self.fixed32
    else { throw Unsupported() }
    return (field, wire)
  }

  /// A varint of at most 10 bytes (SwiftProtobuf's `decodeVarint` bound).
  @inline(__always)
  private mutating func varint() throws(Unsupported) -> UInt64 {
    var value: UInt64 = 0
    var shift: UInt64 = 0
    while true {
      guard self.position < self.end, shift <= 63 else { throw Unsupported() }
      let byte = self.bytes[self.position]
      self.position += 1
      value |= UInt64(byte & 0x7F) &<< shift
      if byte & 0x80 == 0 { return value }
      shift += 7
    }
  }

  @inline(__always)
  private func bytes(_ range: Range<Int>?, equal text: StaticString) -> Bool {
    let count = range?.count ?? 0
    guard count == text.utf8CodeUnitCount else { return false }
    guard let range, count > 0 else { return true }
    return UnsafeRawBufferPointer(rebasing: self.bytes[range])
      .elementsEqual(UnsafeRawBufferPointer(start: text.utf8Start, count: count))
  }
}
