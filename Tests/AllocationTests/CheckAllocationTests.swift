//===----------------------------------------------------------------------===//
// Heap allocations per gRPC Check, counted (not timed), against a checked-in budget.
//===----------------------------------------------------------------------===//

import AugmenterCore
import CAllocationCounter
import EnvoyAPI
import ExtAuthz
import Foundation
import GRPC
import HTTP2
import NIOCore
import NIOEmbedded
import NIOHPACK
import NIOHTTP2
import SwiftProtobuf
import TestSupport
import Testing

/// The budget: allocations per Check in steady state, through our HTTP/2 handler (nghttp2 in,
/// router, CheckRequest scan, decision, cached CheckResponse, frames out). Lower it when the hot
/// path gets cheaper; a change that raises it must say why. Issue 6 aims at <= 10.
///
/// Measured (debug build): 8.0 per Check = libnghttp2's own 6 (the stream; the response HEADERS
/// item and its name/value copy; the DATA item; the trailers item and its copy) + 2 Strings over
/// 15 bytes (`:path`-like `http.path` and `x-request-id`). Transport alone: 6.0, nghttp2's.
/// `AUGMENTER_ALLOC_TRACE=FILE` + `bench/alloc_sites.py FILE 200` list the call sites.
enum AllocationBudget {
  static let grpcCheck = 9
  /// The HTTP/2 session, connection handler and gRPC router alone (a method with a fixed reply).
  static let transport = 7
}

@Suite struct CheckAllocationTests {
  /// A CheckRequest shaped like the one Envoy 1.40 sends (a dozen headers).
  static func envoyLikeRequest() throws -> [UInt8] {
    var request = Envoy_Service_Auth_V3_CheckRequest()
    request.attributes.source.address.socketAddress.address = "127.0.0.1"
    request.attributes.source.address.socketAddress.portValue = 51234
    request.attributes.destination.address.socketAddress.address = "127.0.0.1"
    request.attributes.destination.address.socketAddress.portValue = 10000
    request.attributes.request.time = Google_Protobuf_Timestamp(seconds: 1_800_000_000, nanos: 5)
    let http = Envoy_Service_Auth_V3_AttributeContext.HttpRequest.with {
      $0.id = "12345678901234567890"
      $0.method = "GET"
      $0.path = "/api/v1/items?page=2"
      $0.host = "api.example.com"
      $0.scheme = "http"
      $0.protocol = "HTTP/1.1"
      $0.headers = [
        ":authority": "api.example.com", ":method": "GET", ":path": "/api/v1/items?page=2",
        ":scheme": "http", "accept": "application/json", "user-agent": "curl/7.88.1",
        "x-request-id": "4a3e8d4c-6f2b-4b8e-9a57-0c1d2e3f4a5b", "x-forwarded-proto": "http",
        "authorization": "Bearer client-forged", "accept-encoding": "gzip, deflate",
        "x-b3-traceid": "80f198ee56343ba864fe8b2a57d3eff7", "x-tenant": "someone",
      ]
    }
    request.attributes.request.http = http
    return try request.serializedBytes()
  }

  /// The decider every budget is measured with: one provider holding two headers, a static
  /// header, on a frozen clock (never advanced, so snapshots stay fresh).
  static func measuredDecider() throws -> (decider: Decider, clock: ManualClock) {
    let config = try ConfigLoader.parse(
      """
      providers:
        - name: sidecar
          url: http://127.0.0.1:1/headers
          ttl: 360s
      headers:
        x-static: static-value
      """,
      environment: [:]
    )
    let registry = ProviderRegistry(config: config)
    let clock = ManualClock()
    _ = registry.states[0].publish(
      [HeaderField(name: "authorization", value: "Bearer injected"), HeaderField(name: "x-tenant", value: "acme")],
      fetchedAt: clock.now(),
      fetchedAtWall: clock.wallNow()
    )
    return (Decider(config: config, registry: registry), clock)
  }

  @Test func grpcCheckStaysWithinTheAllocationBudget() throws {
    let (decider, clock) = try Self.measuredDecider()
    let service = ExtAuthzCheckService(decider: decider, clock: clock)
    let perCheck = try Self.allocationsPerCall(framed: { message, _ throws(GRPCStatus) in try service.framedCheck(message) })
    print("allocations per gRPC Check: \(perCheck) (budget \(AllocationBudget.grpcCheck))")
    #expect(perCheck <= Double(AllocationBudget.grpcCheck), "allocations per check: \(perCheck)")
  }

  @Test func http2AndGRPCLayersStayWithinTheirBudget() throws {
    // The same traffic, answered by a method that returns a fixed reply: what the HTTP/2 session,
    // the handler and the gRPC router cost on their own.
    let reply = GRPCMessageFramer.framed(Array(repeating: UInt8(7), count: 120), allocator: ByteBufferAllocator())
    let perCall = try Self.allocationsPerCall(framed: { _, _ in reply })
    print("allocations per call in HTTP/2 + gRPC alone: \(perCall) (budget \(AllocationBudget.transport))")
    #expect(perCall <= Double(AllocationBudget.transport), "allocations per call: \(perCall)")
  }

  /// Runs `warmup + counted` unary calls of `method` through our HTTP/2 handler and returns the
  /// allocations per call of the counted ones (server side only: client bytes are pre-generated).
  static func allocationsPerCall(framed method: @escaping GRPCFramedUnaryHandler) throws -> Double {
    let router = GRPCRouter(methods: [ExtAuthzCheckService.path: .framedUnary(method)], maxMessageBytes: 4 << 20)
    // The strings the service interns (AugmenterService does the same).
    let settings = HTTP2.HTTP2Settings(
      internedStrings: HTTP2InternedStrings(router.internedStrings + ExtAuthzCheckService.internedHeaderNames))
    let server = EmbeddedChannel(handler: HTTP2ServerConnectionHandler(settings: settings, responder: router))
    let client = EmbeddedChannel(handler: NIOHTTP2Handler(mode: .client))
    try server.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
    try client.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 2)).wait()
    // Open the client's connection window wide so responses never wait for WINDOW_UPDATE.
    try client.writeOutbound(HTTP2Frame(streamID: 0, payload: .windowUpdate(windowSizeIncrement: 1 << 30)))
    try Self.shuttle(client: client, server: server)

    let message = try Self.envoyLikeRequest()
    var body = ByteBuffer()
    GRPCMessageFramer.write(message, into: &body)
    let warmup = 50
    let counted = 200
    // Pre-generate every request's bytes with the client, so the count covers the server only.
    var requests: [ByteBuffer] = []
    for index in 0..<(warmup + counted) {
      let stream = HTTP2StreamID(2 * index + 1)
      let headers: HPACKHeaders = [
        ":method": "POST", ":scheme": "http", ":path": ExtAuthzCheckService.path,
        ":authority": "augmenter", "content-type": "application/grpc", "te": "trailers",
        "grpc-timeout": "250m", "x-envoy-internal": "true",
      ]
      try client.writeOutbound(HTTP2Frame(streamID: stream, payload: .headers(.init(headers: headers))))
      try client.writeOutbound(HTTP2Frame(streamID: stream, payload: .data(.init(data: .byteBuffer(body), endStream: true))))
      var bytes = ByteBuffer()
      while var chunk = try client.readOutbound(as: ByteBuffer.self) { bytes.writeBuffer(&chunk) }
      requests.append(bytes)
    }

    // Warm-up, with answers checked through the client: every call must end with grpc-status 0.
    for bytes in requests.prefix(warmup) {
      try server.writeInbound(bytes)
      while let output = try server.readOutbound(as: ByteBuffer.self) { try client.writeInbound(output) }
    }
    var okTrailers = 0
    while let frame = try client.readInbound(as: HTTP2Frame.self) {
      if case .headers(let headers) = frame.payload, headers.headers.first(name: "grpc-status") == "0" {
        okTrailers += 1
      }
    }
    #expect(okTrailers == warmup)

    var responseBytes = 0
    augmenter_allocations_start()
    // By index: iterating the array allocates in a debug build, and only the server is measured.
    for index in warmup..<requests.count {
      try server.writeInbound(requests[index])
      while let output = try server.readOutbound(as: ByteBuffer.self) { responseBytes += output.readableBytes }
    }
    let allocations = augmenter_allocations_stop()
    // Every counted request was answered (each answer is well over 60 bytes), and the counter
    // really counted (zero would mean the interposer is not in place).
    #expect(responseBytes > counted * 60)
    #expect(allocations > 0)
    return Double(allocations) / Double(counted)
  }

  @Test func theCounterSeesSwiftAllocations() {
    augmenter_allocations_start()
    let array = Array(repeating: UInt8(1), count: Int.random(in: 1000...2000))
    let allocations = augmenter_allocations_stop()
    #expect(array.count >= 1000)
    #expect(allocations >= 1)
  }

  static func shuttle(client: EmbeddedChannel, server: EmbeddedChannel) throws {
    var moved = true
    while moved {
      moved = false
      while let bytes = try client.readOutbound(as: ByteBuffer.self) {
        moved = true
        try server.writeInbound(bytes)
      }
      while let bytes = try server.readOutbound(as: ByteBuffer.self) {
        moved = true
        try client.writeInbound(bytes)
      }
    }
    while (try client.readInbound(as: HTTP2Frame.self)) != nil {}
  }
}
