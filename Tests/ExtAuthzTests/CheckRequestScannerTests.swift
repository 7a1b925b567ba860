//===----------------------------------------------------------------------===//
// The CheckRequest wire scanner against SwiftProtobuf's decode: same attributes, same verdicts.
//===----------------------------------------------------------------------===//

import AugmenterCore
import EnvoyAPI
import Foundation
import GRPC
import HTTP2
import NIOCore
import SwiftProtobuf
import TestSupport
import Testing

@testable import ExtAuthz

/// A seeded generator, so a failing case can be replayed from its seed.
struct SplitMix64: RandomNumberGenerator {
  var state: UInt64

  mutating func next() -> UInt64 {
    self.state &+= 0x9E37_79B9_7F4A_7C15
    var z = self.state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }

  mutating func chance(_ probability: Double) -> Bool { Double.random(in: 0..<1, using: &self) < probability }
  mutating func below(_ bound: Int) -> Int { Int.random(in: 0..<bound, using: &self) }
}

/// The protobuf wire format, written by hand so tests can say what SwiftProtobuf would never
/// write: duplicated singular fields, messages split in two, unknown fields anywhere, padded varints.
enum Wire {
  static func varint(_ value: UInt64, padding: Int = 0) -> [UInt8] {
    var out: [UInt8] = []
    var rest = value
    while rest >= 0x80 {
      out.append(UInt8(rest & 0x7F) | 0x80)
      rest >>= 7
    }
    if padding > 0 {
      // A non-minimal encoding: continuation bytes of zero (still valid protobuf).
      out.append(UInt8(rest) | 0x80)
      for _ in 1..<padding { out.append(0x80) }
      out.append(0)
    } else {
      out.append(UInt8(rest))
    }
    return out
  }

  static func tag(_ field: Int, _ wire: UInt8) -> [UInt8] { varint(UInt64(field) << 3 | UInt64(wire)) }

  static func bytes(_ field: Int, _ body: [UInt8], padding: Int = 0) -> [UInt8] {
    tag(field, 2) + varint(UInt64(body.count), padding: padding) + body
  }

  static func string(_ field: Int, _ text: String) -> [UInt8] { bytes(field, Array(text.utf8)) }

  static func varintField(_ field: Int, _ value: UInt64) -> [UInt8] { tag(field, 0) + varint(value) }
}

/// Random CheckRequests written field by field (valid unless `invalidUTF8` lets strings break).
struct RawRequestGenerator {
  var rng: SplitMix64
  /// Probability that a string field carries bytes that are not UTF-8.
  var invalidUTF8 = 0.0

  init(seed: UInt64, invalidUTF8: Double = 0) {
    self.rng = SplitMix64(state: seed)
    self.invalidUTF8 = invalidUTF8
  }

  static let words = [
    "", "a", "GET", "POST", "x-request-id", "X-Request-Id", "x-tenant", "authorization", "http", "https",
    "/api/v1/orders/12345?expand=items", "api.example.com:8443", "127.0.0.1", "::1", "2001:db8::1",
    "e32b1ced-8ea3-4c03-9c58-625877eacdc5", "héllo wörld", "日本語のヘッダ", "🙂 emoji", "a,b,c",
    "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.abcdefghijklmnopqrstuvwxyz",
  ]

  mutating func text() -> [UInt8] {
    if self.rng.chance(self.invalidUTF8) {
      let broken: [[UInt8]] = [[0xFF], [0xC0, 0xAF], [0xED, 0xA0, 0x80], [0xE2, 0x82], [0xF4, 0x90, 0x80, 0x80], [0x80]]
      return Array("ok".utf8) + broken[self.rng.below(broken.count)]
    }
    if self.rng.chance(0.1) {
      return (0..<self.rng.below(40)).map { _ in UInt8(0x20 + self.rng.below(0x5F)) }
    }
    return Array(Self.words[self.rng.below(Self.words.count)].utf8)
  }

  mutating func stringField(_ field: Int) -> [UInt8] {
    Wire.bytes(field, self.text(), padding: self.rng.chance(0.05) ? 1 + self.rng.below(3) : 0)
  }

  /// A field number the schema does not use at this level, with any non-group wire type.
  mutating func unknownField(avoiding known: ClosedRange<Int>) -> [UInt8] {
    var field = known.upperBound + 1 + self.rng.below(40)
    if self.rng.chance(0.1) { field = 536_870_911 }  // the largest field number
    switch self.rng.below(4) {
    case 0: return Wire.varintField(field, self.rng.next() >> UInt64(self.rng.below(64)))
    case 1: return Wire.tag(field, 1) + (0..<8).map { _ in UInt8(truncatingIfNeeded: self.rng.next()) }
    case 2: return Wire.tag(field, 5) + (0..<4).map { _ in UInt8(truncatingIfNeeded: self.rng.next()) }
    default: return Wire.bytes(field, (0..<self.rng.below(20)).map { _ in UInt8(truncatingIfNeeded: self.rng.next()) })
    }
  }

  /// Shuffles fields, adds unknown ones, concatenates.
  mutating func message(_ fields: [[UInt8]], known: ClosedRange<Int>) -> [UInt8] {
    var fields = fields
    for _ in 0..<(self.rng.chance(0.3) ? 1 + self.rng.below(3) : 0) {
      fields.append(self.unknownField(avoiding: known))
    }
    if self.rng.chance(0.5) { fields.shuffle(using: &self.rng) }
    return fields.flatMap { $0 }
  }

  /// 0, 1 or (rarely) 2 occurrences of a field: a second one tests protobuf's merge/last-wins.
  mutating func occurrences() -> Int {
    self.rng.chance(0.15) ? 0 : (self.rng.chance(0.1) ? 2 : 1)
  }

  mutating func checkRequest() -> [UInt8] {
    var fields: [[UInt8]] = []
    for _ in 0..<max(1, self.occurrences()) { fields.append(Wire.bytes(1, self.attributeContext())) }
    return self.message(fields, known: 1...1)
  }

  mutating func attributeContext() -> [UInt8] {
    var fields: [[UInt8]] = []
    for _ in 0..<self.occurrences() { fields.append(Wire.bytes(1, self.peer())) }
    for _ in 0..<self.occurrences() { fields.append(Wire.bytes(2, self.peer())) }
    for _ in 0..<max(1, self.occurrences()) { fields.append(Wire.bytes(4, self.request())) }
    for _ in 0..<(self.rng.chance(0.3) ? self.rng.below(4) : 0) { fields.append(Wire.bytes(10, self.mapEntry())) }
    if self.rng.chance(0.5) { fields.append(Wire.bytes(11, self.metadata(depth: 0))) }
    if self.rng.chance(0.2) { fields.append(Wire.bytes(12, self.stringField(1))) }
    if self.rng.chance(0.5) { fields.append(Wire.bytes(13, self.metadata(depth: 0))) }
    return self.message(fields, known: 1...13)
  }

  mutating func peer() -> [UInt8] {
    var fields: [[UInt8]] = []
    for _ in 0..<self.occurrences() { fields.append(Wire.bytes(1, self.address())) }
    if self.rng.chance(0.2) { fields.append(self.stringField(2)) }
    if self.rng.chance(0.2) { fields.append(Wire.bytes(3, self.mapEntry())) }
    if self.rng.chance(0.2) { fields.append(self.stringField(4)) }
    if self.rng.chance(0.1) { fields.append(self.stringField(5)) }
    return self.message(fields, known: 1...5)
  }

  mutating func address() -> [UInt8] {
    var fields: [[UInt8]] = []
    for _ in 0..<(1 + self.rng.below(2)) {
      switch self.rng.below(6) {
      case 0:
        fields.append(Wire.bytes(2, self.message([self.stringField(1), Wire.varintField(2, 0o644)], known: 1...2)))
      case 1:
        fields.append(Wire.bytes(3, self.message([self.stringField(1), self.stringField(2)], known: 1...2)))
      default:
        var socket: [[UInt8]] = []
        if self.rng.chance(0.3) { socket.append(Wire.varintField(1, UInt64(self.rng.below(3)))) }
        for _ in 0..<self.occurrences() { socket.append(self.stringField(2)) }
        if self.rng.chance(0.7) { socket.append(Wire.varintField(3, UInt64(self.rng.below(65536)))) }
        if self.rng.chance(0.1) { socket.append(self.stringField(4)) }
        if self.rng.chance(0.1) { socket.append(self.stringField(5)) }
        if self.rng.chance(0.1) { socket.append(Wire.varintField(6, 1)) }
        if self.rng.chance(0.1) { socket.append(self.stringField(7)) }
        fields.append(Wire.bytes(1, self.message(socket, known: 1...7)))
      }
    }
    return self.message(fields, known: 1...3)
  }

  mutating func request() -> [UInt8] {
    var fields: [[UInt8]] = []
    if self.rng.chance(0.7) {
      fields.append(Wire.bytes(1, self.message([Wire.varintField(1, 1_795_302_839), Wire.varintField(2, 360_792_000)], known: 1...2)))
    }
    for _ in 0..<max(1, self.occurrences()) { fields.append(Wire.bytes(2, self.httpRequest())) }
    return self.message(fields, known: 1...2)
  }

  mutating func httpRequest() -> [UInt8] {
    var fields: [[UInt8]] = []
    for field in [1, 2, 4, 5, 6, 7, 8, 10] {
      for _ in 0..<self.occurrences() { fields.append(self.stringField(field)) }
    }
    if self.rng.chance(0.3) { fields.append(Wire.varintField(9, UInt64(self.rng.below(1 << 20)))) }
    switch self.rng.below(4) {
    case 0: break
    case 1:
      for _ in 0..<self.rng.below(20) { fields.append(Wire.bytes(3, self.mapEntry())) }
    case 2:
      for _ in 0..<self.occurrences() {
        var entries: [[UInt8]] = []
        for _ in 0..<self.rng.below(12) { entries.append(Wire.bytes(1, self.headerValue())) }
        fields.append(Wire.bytes(13, self.message(entries, known: 1...1)))
      }
    default:
      // Both, as Envoy never sends them: #3 wins when it has entries.
      for _ in 0..<self.rng.below(4) { fields.append(Wire.bytes(3, self.mapEntry())) }
      fields.append(Wire.bytes(13, Wire.bytes(1, self.headerValue())))
    }
    if self.rng.chance(0.1) { fields.append(Wire.bytes(11, Array(repeating: UInt8(ascii: "b"), count: self.rng.below(100_000)))) }
    if self.rng.chance(0.1) {
      fields.append(Wire.bytes(12, (0..<self.rng.below(5_000)).map { _ in UInt8(truncatingIfNeeded: self.rng.next()) }))
    }
    return self.message(fields, known: 1...13)
  }

  mutating func mapEntry() -> [UInt8] {
    var fields: [[UInt8]] = []
    if self.rng.chance(0.1) {
      fields.append(Wire.string(1, "x-request-id"))
    } else {
      for _ in 0..<self.occurrences() { fields.append(self.stringField(1)) }
    }
    for _ in 0..<self.occurrences() { fields.append(self.stringField(2)) }
    return self.message(fields, known: 1...2)
  }

  mutating func headerValue() -> [UInt8] {
    var fields: [[UInt8]] = []
    if self.rng.chance(0.15) {
      fields.append(Wire.string(1, self.rng.chance(0.5) ? "x-request-id" : "X-Request-ID"))
    } else {
      for _ in 0..<self.occurrences() { fields.append(self.stringField(1)) }
    }
    if self.rng.chance(0.3) { fields.append(self.stringField(2)) }
    if self.rng.chance(0.8) {
      fields.append(Wire.bytes(3, self.rng.chance(0.9) ? self.text() : [0xFF, 0xFE, 0x41]))
    }
    return self.message(fields, known: 1...3)
  }

  mutating func metadata(depth: Int) -> [UInt8] {
    var fields: [[UInt8]] = []
    for _ in 0..<self.rng.below(3) {
      fields.append(Wire.bytes(1, self.message([self.stringField(1), Wire.bytes(2, self.protobufStruct(depth: depth + 1))], known: 1...2)))
    }
    if self.rng.chance(0.3) {
      let any = self.message(
        [Wire.string(1, "type.googleapis.com/google.protobuf.Struct"), Wire.bytes(2, [0x0A, 0x01, 0xFF])],
        known: 1...2
      )
      fields.append(Wire.bytes(2, self.message([self.stringField(1), Wire.bytes(2, any)], known: 1...2)))
    }
    return self.message(fields, known: 1...2)
  }

  mutating func protobufStruct(depth: Int) -> [UInt8] {
    var fields: [[UInt8]] = []
    for _ in 0..<self.rng.below(depth > 6 ? 1 : 3) {
      fields.append(Wire.bytes(1, self.message([self.stringField(1), Wire.bytes(2, self.protobufValue(depth: depth + 1))], known: 1...2)))
    }
    return self.message(fields, known: 1...1)
  }

  mutating func protobufValue(depth: Int) -> [UInt8] {
    switch self.rng.below(depth > 6 ? 4 : 6) {
    case 0: return Wire.varintField(1, 0)
    case 1: return Wire.tag(2, 1) + withUnsafeBytes(of: 2.5.bitPattern.littleEndian, Array.init)
    case 2: return self.stringField(3)
    case 3: return Wire.varintField(4, 1)
    case 4: return Wire.bytes(5, self.protobufStruct(depth: depth + 1))
    default:
      let values = (0..<self.rng.below(3)).flatMap { _ in Wire.bytes(1, self.protobufValue(depth: depth + 1)) }
      return Wire.bytes(6, values)
    }
  }
}

/// What the SwiftProtobuf path makes of `bytes`: the attributes, or the decode error's status.
func decodedAttributes(_ bytes: [UInt8], readingHeaders: Bool) -> Result<CheckRequestAttributes, GRPCStatus> {
  do throws(GRPCStatus) {
    let request = try Envoy_Service_Auth_V3_CheckRequest(grpcRequest: ByteBuffer(bytes: bytes))
    return .success(ExtAuthzCheckService.attributes(of: request, readingHeaders: readingHeaders))
  } catch {
    return .failure(error)
  }
}

@Suite struct CheckRequestScannerTests {
  /// Compares the scanner with the decode on `bytes`, for both header modes. Returns whether
  /// the scanner read the request itself (rather than leaving it to the decode).
  /// Lets other tests run every few dozen iterations: these loops take tens of seconds in a
  /// debug build, and Swift Testing runs tests on the few cooperative threads the machine's
  /// cores give (two here), so without it they starve tests that wait on real sockets with
  /// deadlines (the TLS handshake timeout tests failed that way).
  static func yieldNow(_ iteration: Int) async {
    if iteration % 25 == 0 { await Task.yield() }
  }

  @discardableResult
  static func expectAgreement(_ bytes: [UInt8], _ context: @autoclosure () -> String) -> Bool {
    var scannedBoth = true
    for readingHeaders in [true, false] {
      let decoded = decodedAttributes(bytes, readingHeaders: readingHeaders)
      guard let scanned = CheckRequestScanner.scan(ByteBuffer(bytes: bytes), readingHeaders: readingHeaders) else {
        scannedBoth = false
        continue
      }
      // Whatever the scanner accepts, the decoder accepts, with the same attributes.
      switch decoded {
      case .success(let expected):
        let actual = ExtAuthzCheckService.attributes(of: scanned, readingHeaders: readingHeaders)
        #expect(actual == expected, "\(context()), readingHeaders \(readingHeaders)")
      case .failure(let error):
        Issue.record("scanner accepted what the decoder refuses (\(error)): \(context())")
      }
    }
    return scannedBoth
  }

  static func captured() throws -> [UInt8] {
    let url = URL(fileURLWithPath: #filePath)
      .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
      .appendingPathComponent("bench/check-request.bin")
    let framed = try [UInt8](Data(contentsOf: url))
    try #require(framed.count > 5 && framed[0] == 0)
    let length = Int(framed[1]) << 24 | Int(framed[2]) << 16 | Int(framed[3]) << 8 | Int(framed[4])
    try #require(framed.count == 5 + length)
    return Array(framed[5...])
  }

  @Test func theCapturedEnvoyRequestIsScannedAndAgrees() throws {
    let bytes = try Self.captured()
    #expect(Self.expectAgreement(bytes, "bench/check-request.bin"))
    let scanned = try #require(CheckRequestScanner.scan(ByteBuffer(bytes: bytes), readingHeaders: false))
    let attributes = ExtAuthzCheckService.attributes(of: scanned, readingHeaders: false)
    #expect(attributes.method == "GET")
    #expect(attributes.path == "/api/v1/orders/12345?expand=items")
    #expect(attributes.authority == "127.0.0.1:56941")
    #expect(attributes.scheme == "http")
    #expect(attributes.requestID == "e32b1ced-8ea3-4c03-9c58-625877eacdc5")
    #expect(attributes.sourceAddress == "127.0.0.1")
    #expect(attributes.destinationAddress == "127.0.0.1")
    #expect(attributes.headers == RequestHeaders())
    let withHeaders = ExtAuthzCheckService.attributes(
      of: try #require(CheckRequestScanner.scan(ByteBuffer(bytes: bytes), readingHeaders: true))
    )
    #expect(withHeaders.headers["user-agent"] == "orders-client/2.4.1 (linux; x86_64) okhttp/4.12.0")
  }

  @Test func everyTruncationAndEveryByteOfTheCapturedRequestAgrees() async throws {
    let bytes = try Self.captured()
    for length in 0..<bytes.count {
      await Self.yieldNow(length)
      Self.expectAgreement(Array(bytes.prefix(length)), "captured request truncated to \(length)")
    }
    var rng = SplitMix64(state: 6)
    for index in bytes.indices {
      await Self.yieldNow(index)
      var mutated = bytes
      mutated[index] = UInt8(truncatingIfNeeded: rng.next())
      Self.expectAgreement(mutated, "captured request, byte \(index) = \(mutated[index])")
      mutated[index] = bytes[index] ^ 0x80
      Self.expectAgreement(mutated, "captured request, byte \(index) ^ 0x80")
    }
  }

  @Test func randomWellFormedRequestsAreScannedAndAgree() async {
    for seed in UInt64(1)...1500 {
      await Self.yieldNow(Int(seed))
      var generator = RawRequestGenerator(seed: seed)
      let bytes = generator.checkRequest()
      // Valid, group-free, with the expected wire types: the fast path must take every one.
      #expect(Self.expectAgreement(bytes, "raw seed \(seed)"), "scanner fell back on raw seed \(seed)")
    }
  }

  @Test func randomRequestsWithBrokenUTF8Agree() async {
    var refused = 0
    for seed in UInt64(10_001)...10_800 {
      await Self.yieldNow(Int(seed))
      var generator = RawRequestGenerator(seed: seed, invalidUTF8: 0.05)
      let bytes = generator.checkRequest()
      if case .failure = decodedAttributes(bytes, readingHeaders: true) { refused += 1 }
      Self.expectAgreement(bytes, "broken-UTF-8 seed \(seed)")
    }
    #expect(refused > 100)  // the corpus does exercise rejection
  }

  @Test func truncationsAndMutationsOfRandomRequestsAgree() async {
    var rng = SplitMix64(state: 99)
    for seed in UInt64(20_001)...20_300 {
      await Self.yieldNow(Int(seed))
      var generator = RawRequestGenerator(seed: seed)
      let bytes = generator.checkRequest()
      guard !bytes.isEmpty else { continue }
      for _ in 0..<6 {
        var mutated = bytes
        switch rng.below(5) {
        case 0: mutated = Array(bytes.prefix(rng.below(bytes.count)))
        case 1: mutated[rng.below(bytes.count)] = UInt8(truncatingIfNeeded: rng.next())
        case 2: mutated[rng.below(bytes.count)] ^= UInt8(1 << rng.below(8))
        case 3: mutated.insert(UInt8(truncatingIfNeeded: rng.next()), at: rng.below(bytes.count))
        default: mutated.remove(at: rng.below(bytes.count))
        }
        Self.expectAgreement(mutated, "mutation of raw seed \(seed)")
      }
    }
  }

  @Test func swiftProtobufBuiltRequestsAreScannedAndAgree() throws {
    var rng = SplitMix64(state: 4242)
    let words = RawRequestGenerator.words
    func word() -> String { words[rng.below(words.count)] }
    for index in 0..<600 {
      var request = Envoy_Service_Auth_V3_CheckRequest()
      var context = Envoy_Service_Auth_V3_AttributeContext()
      if rng.chance(0.8) {
        context.source.address.socketAddress.address = word()
        context.source.address.socketAddress.portValue = UInt32(rng.below(65536))
        context.source.principal = word()
      }
      if rng.chance(0.8) {
        if rng.chance(0.2) {
          context.destination.address.pipe.path = word()
        } else {
          context.destination.address.socketAddress.address = word()
        }
      }
      var http = Envoy_Service_Auth_V3_AttributeContext.HttpRequest()
      http.id = String(rng.next())
      http.method = word()
      http.path = word()
      http.host = word()
      http.scheme = word()
      http.protocol = "HTTP/2"
      if rng.chance(0.7) {
        for _ in 0..<rng.below(30) { http.headers[rng.chance(0.1) ? "x-request-id" : word()] = word() }
      } else if rng.chance(0.7) {
        http.headerMap = Envoy_Config_Core_V3_HeaderMap.with { map in
          map.headers = (0..<rng.below(20)).map { _ in
            Envoy_Config_Core_V3_HeaderValue.with {
              $0.key = rng.chance(0.2) ? "x-request-id" : word()
              if rng.chance(0.3) { $0.value = word() }
              $0.rawValue = Data(word().utf8)
            }
          }
        }
      }
      if rng.chance(0.1) { http.body = String(repeating: "é", count: rng.below(60_000)) }
      if rng.chance(0.1) { http.rawBody = Data((0..<rng.below(10_000)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }) }
      context.request.http = http
      if rng.chance(0.5) { context.request.time = Google_Protobuf_Timestamp(seconds: 1_800_000_000, nanos: 5) }
      if rng.chance(0.3) {
        for _ in 0..<rng.below(4) { context.contextExtensions[word()] = word() }
      }
      if rng.chance(0.3) {
        context.metadataContext.filterMetadata[word()] = Google_Protobuf_Struct(fields: [
          "n": Google_Protobuf_Value(numberValue: 1.5),
          "l": Google_Protobuf_Value(listValue: [Google_Protobuf_Value(stringValue: word()), Google_Protobuf_Value(boolValue: true)]),
          "s": Google_Protobuf_Value(structValue: Google_Protobuf_Struct(fields: ["x": Google_Protobuf_Value(nilLiteral: ())])),
        ])
        context.routeMetadataContext.typedFilterMetadata[word()] = Google_Protobuf_Any.with {
          $0.typeURL = "type.googleapis.com/x"
          $0.value = Data([1, 2, 3])
        }
      }
      if rng.chance(0.2) { context.tlsSession.sni = word() }
      request.attributes = context
      var bytes: [UInt8] = try request.serializedBytes()
      if rng.chance(0.3) { bytes += Wire.varintField(7, 1) + Wire.bytes(99, [0xFF, 0x00]) }  // unknown top-level fields
      #expect(Self.expectAgreement(bytes, "built request \(index)"), "scanner fell back on built request \(index)")
    }
  }

  @Test func oddButValidEncodingsFallBackAndAgree() throws {
    let valid = Wire.bytes(1, Wire.bytes(4, Wire.bytes(2, Wire.string(2, "GET"))))
    let cases: [(String, [UInt8])] = [
      // A known string field sent as a varint: the decoder keeps it as an unknown field.
      ("method as varint", Wire.bytes(1, Wire.bytes(4, Wire.bytes(2, Wire.varintField(2, 7))))),
      // A group (wire types 3/4) among unknown fields: the decoder skips it.
      ("unknown group", valid + Wire.tag(20, 3) + Wire.varintField(1, 5) + Wire.tag(20, 4)),
      ("end group alone", valid + Wire.tag(20, 4)),
      ("wire type 6", valid + Wire.tag(20, 6)),
      ("field number 0", valid + Wire.tag(0, 0) + [0]),
      ("11-byte varint", valid + Wire.tag(20, 0) + Array(repeating: 0xFF, count: 10) + [0x01]),
      ("10-byte varint", valid + Wire.tag(20, 0) + Array(repeating: 0xFF, count: 9) + [0x7F]),
      ("6-byte tag", valid + [0x80, 0x80, 0x80, 0x80, 0x80, 0x00, 0x00]),
      ("length past the end", valid + Wire.tag(20, 2) + [0x10, 1, 2]),
      ("deep struct", Wire.bytes(1, Wire.bytes(11, Self.deepStruct(levels: 60)))),
      ("too deep struct", Wire.bytes(1, Wire.bytes(11, Self.deepStruct(levels: 120)))),
      ("empty", []),
    ]
    for (name, bytes) in cases {
      Self.expectAgreement(bytes, name)
    }
    // The service answers each exactly as the decode does: INVALID_ARGUMENT with its reason, or
    // a decision.
    let config = try makeConfig(onUnavailable: .allow)
    let service = ExtAuthzCheckService(decider: Decider(config: config, registry: ProviderRegistry(config: config)), clock: ManualClock())
    for (name, bytes) in cases {
      let expected = decodedAttributes(bytes, readingHeaders: false)
      do throws(GRPCStatus) {
        _ = try service.check(ByteBuffer(bytes: bytes))
        if case .failure(let error) = expected { Issue.record("\(name): check answered, decode refused with \(error)") }
      } catch {
        if case .failure(let decodeError) = expected {
          #expect(error == decodeError, "\(name)")
          #expect(error.code == .invalidArgument)
        } else {
          Issue.record("\(name): check refused with \(error), decode accepted")
        }
      }
    }
  }

  /// metadata_context with `levels` nested Struct → Value → Struct ...
  static func deepStruct(levels: Int) -> [UInt8] {
    var value = Wire.varintField(4, 1)
    for _ in 0..<levels {
      let structBody = Wire.bytes(1, Wire.string(1, "k") + Wire.bytes(2, value))
      value = Wire.bytes(5, structBody)
    }
    // Metadata.filter_metadata entry: key, Struct { fields: { "k": value } }.
    let topStruct = Wire.bytes(1, Wire.string(1, "k") + Wire.bytes(2, value))
    return Wire.bytes(1, Wire.string(1, "ns") + Wire.bytes(2, topStruct))
  }

  @Test func serviceAnswersMalformedRequestsWithTheDecodersReason() throws {
    let config = try makeConfig(onUnavailable: .allow)
    let service = ExtAuthzCheckService(decider: Decider(config: config, registry: ProviderRegistry(config: config)), clock: ManualClock())
    var rng = SplitMix64(state: 7)
    for seed in UInt64(30_001)...30_150 {
      var generator = RawRequestGenerator(seed: seed, invalidUTF8: 0.03)
      var bytes = generator.checkRequest()
      if rng.chance(0.5), !bytes.isEmpty { bytes = Array(bytes.prefix(rng.below(bytes.count))) }
      let expected = decodedAttributes(bytes, readingHeaders: false)
      do throws(GRPCStatus) {
        _ = try service.check(ByteBuffer(bytes: bytes))
        if case .failure(let error) = expected { Issue.record("seed \(seed): answered, decode refused with \(error)") }
      } catch {
        if case .failure(let decodeError) = expected {
          #expect(error == decodeError, "seed \(seed)")
        } else {
          Issue.record("seed \(seed): refused with \(error), decode accepted")
        }
      }
    }
  }

  @Test func utf8ValidationMatchesSwift() {
    var rng = SplitMix64(state: 12)
    for round in 0..<30_000 {
      // Short random runs (multi-byte sequences, broken ones), and longer mostly-ASCII ones with
      // a stray high byte anywhere (the 8-bytes-at-a-time ASCII path and its tail).
      let long = round % 2 == 1
      let bytes = (0..<rng.below(long ? 40 : 6)).map { _ in
        if long {
          return rng.chance(0.97) ? UInt8(rng.below(0x80)) : UInt8(0x80 + rng.below(0x80))
        }
        return rng.chance(0.5) ? UInt8(0x80 + rng.below(0x80)) : UInt8(truncatingIfNeeded: rng.next())
      }
      let expected = String(validating: bytes, as: UTF8.self) != nil
      let actual = bytes.withUnsafeBytes { CheckRequestScanner.isValidUTF8($0) }
      #expect(actual == expected, "\(bytes)")
    }
  }
}
