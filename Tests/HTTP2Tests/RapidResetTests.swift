//===----------------------------------------------------------------------===//
// Rapid reset (CVE-2023-44487): streams reset before they are answered end the connection;
// streams reset after their answer (Envoy's ext_proc ends every stream so) never do.
//===----------------------------------------------------------------------===//

import HTTP2
import NIOCore
import NIOEmbedded
import TestSupport
import Testing

@Suite struct RapidResetTests {
  /// A request header block: `:method POST`, `:scheme http`, `:path /` from HPACK's static
  /// table, and `:authority a` as a literal without indexing (nghttp2 requires an authority).
  private static let requestBlock: [UInt8] = [0x83, 0x86, 0x84, 0x01, 0x01, 0x61]

  private static func headers(stream: UInt32, endStream: Bool) -> [UInt8] {
    // END_HEADERS (0x4), plus END_STREAM (0x1) for a request without a body.
    RawFrame.encode(type: 0x1, flags: endStream ? 0x5 : 0x4, streamID: stream, payload: Self.requestBlock)
  }

  private static func reset(stream: UInt32) -> [UInt8] {
    RawFrame.encode(type: 0x3, streamID: stream, payload: [0, 0, 0, 8])  // CANCEL
  }

  private static func connectedPair() throws -> InMemoryHTTP2 {
    let pair = try InMemoryHTTP2(connectClient: false)
    try pair.sendRaw(RawFrame.clientPreface)
    _ = try pair.takeServerFrames()
    return pair
  }

  @Test("1000 streams reset before their answer are allowed; the 1001st ends the connection with GOAWAY ENHANCE_YOUR_CALM")
  func unansweredResetsEndTheConnection() throws {
    let pair = try Self.connectedPair()
    var bytes: [UInt8] = []
    for index in 0..<1000 {
      let stream = UInt32(2 * index + 1)
      bytes += Self.headers(stream: stream, endStream: false) + Self.reset(stream: stream)
    }
    try pair.sendRaw(bytes)
    let before = try pair.takeServerFrames()
    #expect(before.compactMap(\.goAway).isEmpty, "GOAWAY within the burst")
    #expect(pair.server.isActive)

    try pair.sendRaw(Self.headers(stream: 2001, endStream: false) + Self.reset(stream: 2001))
    let frames = try pair.takeServerFrames()
    let goAways = frames.compactMap(\.goAway)
    #expect(goAways.count == 1, "\(frames)")
    #expect(goAways.first?.errorCode == 0xB, "ENHANCE_YOUR_CALM")
    #expect(!pair.server.isActive, "the connection must be closed")
    #expect(pair.notices.notices.map(\.kind) == [.flooded])
    #expect(pair.notices.notices.first?.reason.contains("rapid reset") == true, "\(pair.notices.notices)")
  }

  @Test("5000 streams each reset after its answer (Envoy's ext_proc close) keep the connection open")
  func resetsAfterTheAnswerAreNotCounted() throws {
    let pair = try Self.connectedPair()
    for index in 0..<5000 {
      let stream = UInt32(2 * index + 1)
      // The request, answered during this read...
      try pair.sendRaw(Self.headers(stream: stream, endStream: true))
      // ... then, in a later read, the client's END_STREAM-and-reset of a finished stream.
      try pair.sendRaw(Self.reset(stream: stream))
    }
    let frames = try pair.takeServerFrames()
    #expect(frames.compactMap(\.goAway).isEmpty, "GOAWAY for resets after answers: \(pair.notices.notices)")
    #expect(Set(frames.filter { $0.type == RawFrame.headers }.map(\.streamID)).count == 5000, "every stream was answered")
    #expect(pair.server.isActive)
    #expect(pair.notices.notices.isEmpty)
  }
}
