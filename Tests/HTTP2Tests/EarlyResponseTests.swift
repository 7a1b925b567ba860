//===----------------------------------------------------------------------===//
// Answering a request before its body is complete: gRPC's declared length over the limit.
//===----------------------------------------------------------------------===//

import GRPC
import HTTP2
import NIOCore
import NIOEmbedded
import NIOHPACK
import NIOHTTP2
import TestSupport
import Testing

@Suite struct EarlyResponseTests {
  /// A prefix declaring 10 MiB, against the test router's 1024-byte maximum.
  private let tenMiBPrefix: [UInt8] = [0, 0, 0xA0, 0, 0]

  @Test func declaredLengthOverTheLimitIsRefusedBeforeTheBodyArrives() throws {
    let pair = try InMemoryHTTP2()
    try pair.sendHeaders(stream: 1, path: "/test.Echo/Echo")
    try pair.sendData(stream: 1, self.tenMiBPrefix + [1, 2, 3], endStream: false)
    let response = pair.response(stream: 1)
    #expect(response.status == "200")
    #expect(response.grpcStatus == 8)
    #expect(response.grpcMessage == "request exceeds the maximum message size of 1024 bytes")
    #expect(response.trailers == nil)  // trailers-only
    #expect(response.ended)
    #expect(response.reset == .noError, "the client must be told to stop sending")
    // The connection stays good.
    let next = try pair.call(stream: 3, path: "/test.Echo/Echo", body: grpcFrame([42]))
    #expect(next.grpcStatus == 0)
    #expect(pair.server.isActive)
  }

  @Test func prefixSplitAcrossFramesIsRefusedOnceComplete() throws {
    let pair = try InMemoryHTTP2()
    try pair.sendHeaders(stream: 1, path: "/test.Echo/Echo")
    try pair.sendData(stream: 1, Array(self.tenMiBPrefix.prefix(3)), endStream: false)
    #expect(pair.response(stream: 1).headers == nil)
    try pair.sendData(stream: 1, Array(self.tenMiBPrefix.suffix(2)), endStream: false)
    #expect(pair.response(stream: 1).grpcStatus == 8)
  }

  @Test func declaredLengthWithinTheLimitWaitsForTheBody() throws {
    let pair = try InMemoryHTTP2()
    let body = grpcFrame([UInt8](repeating: 7, count: 1000))
    try pair.sendHeaders(stream: 1, path: "/test.Echo/Echo")
    try pair.sendData(stream: 1, Array(body.prefix(10)), endStream: false)
    #expect(pair.response(stream: 1).headers == nil)
    try pair.sendData(stream: 1, Array(body.dropFirst(10)), endStream: true)
    let response = pair.response(stream: 1)
    #expect(response.grpcStatus == 0)
    #expect(response.body == body)
  }

  @Test func nonGRPCRequestsAreNotAnsweredEarly() throws {
    let pair = try InMemoryHTTP2()
    try pair.sendHeaders(stream: 1, path: "/test.Echo/Echo", contentType: "application/json")
    try pair.sendData(stream: 1, self.tenMiBPrefix + [1], endStream: false)
    #expect(pair.response(stream: 1).headers == nil)
    try pair.sendData(stream: 1, [], endStream: true)
    #expect(pair.response(stream: 1).status == "415")
  }
}
