//===----------------------------------------------------------------------===//
// End-to-end tests: gRPC protocol errors on the check port.
//===----------------------------------------------------------------------===//

import EnvoyAPI
import Foundation
import SwiftProtobuf
import TestSupport
import Testing

extension EndToEnd {
  /// gRPC errors on the check port, driven over ONE HTTP/2 connection by an independent client.
  @Suite("gRPC protocol errors on the check port")
  struct GRPCProtocol {
    /// A good Check on `client`: grpc-status 0, an allow carrying the provider's header with
    /// `append` explicitly false (so Envoy replaces client values, see EnvoyBehaviour).
    static func expectGoodCheck(_ client: GRPCTestClient, _ context: String) async throws {
      let response = try await client.unary(path: GRPCPath.check, body: try Messages.checkBody())
      #expect(response.httpStatus == 200, "\(context): \(response)")
      #expect(response.grpcStatus == 0, "\(context): \(response)")
      let check = try response.message(as: Envoy_Service_Auth_V3_CheckResponse.self)
      #expect(check.status.code == 0, "\(context)")
      let headers = check.okHeaders
      #expect(headers.contains { $0.name == "x-a" && $0.value == "provider" }, "\(context): \(headers)")
      #expect(headers.allSatisfy { $0.append == false }, "\(context): every header needs append=false: \(headers)")
    }

    static func expectGRPCError(
      _ response: GRPCResponse, _ code: Int, _ what: String, sourceLocation: SourceLocation = #_sourceLocation
    ) {
      #expect(response.httpStatus == 200, "\(what): \(response)", sourceLocation: sourceLocation)
      #expect(response.grpcStatus == code, "\(what): \(response)", sourceLocation: sourceLocation)
      #expect(response.complete, "\(what): the server must end the stream: \(response)", sourceLocation: sourceLocation)
      if code != 0 {
        #expect(response.grpcMessage?.isEmpty == false, "\(what): grpc-message should say why", sourceLocation: sourceLocation)
      }
    }

    @Test(
      "garbage bodies, unknown methods, compression, a wrong content-type and an oversized message get the right status; good checks on the same connection keep succeeding"
    )
    func errorsDoNotDisturbGoodChecks() async throws {
      try await withTestScope { scope in
        let provider = try await TestProvider.start(scope: scope, answer: .headers(["x-a": "provider"]))
        let augmenter = try await AugmenterProcess.start(
          scope: scope, config: AugmenterConfig(providers: [ProviderConfig(url: provider.url)]))
        try await augmenter.waitUntilReady()
        let client = try await GRPCTestClient.connect(port: augmenter.checkPort, scope: scope)
        let check = try Messages.checkRequest().serializedBytes() as [UInt8]

        try await Self.expectGoodCheck(client, "first check")

        let cases: [(what: String, path: String, contentType: String, body: [UInt8], code: Int)] = [
          ("a body shorter than the 5-byte prefix", GRPCPath.check, "application/grpc", [0, 0, 0], 3),
          (
            "a prefix announcing more bytes than sent", GRPCPath.check, "application/grpc",
            [0, 0, 0, 0, 100] + Array(repeating: 0x41, count: 10), 3
          ),
          ("a frame holding bytes that are not a protobuf", GRPCPath.check, "application/grpc", GRPCWire.frame([0x0A, 0x05, 0x01]), 3),
          ("a frame of 0xFF bytes", GRPCPath.check, "application/grpc", GRPCWire.frame(Array(repeating: 0xFF, count: 16)), 3),
          (
            "an unknown method of the Authorization service", "/envoy.service.auth.v3.Authorization/Nope", "application/grpc",
            GRPCWire.frame(check), 12
          ),
          ("an unknown service", "/no.such.Service/Method", "application/grpc", GRPCWire.frame(check), 12),
          ("the compressed flag without grpc-encoding", GRPCPath.check, "application/grpc", GRPCWire.frame(check, compressed: true), 12),
          ("a garbage health request", GRPCPath.health, "application/grpc", GRPCWire.frame([0xFF, 0xFF, 0xFF]), 3),
        ]
        for entry in cases {
          let response = try await client.unary(path: entry.path, body: entry.body, contentType: entry.contentType)
          Self.expectGRPCError(response, entry.code, entry.what)
          try await Self.expectGoodCheck(client, "check after \(entry.what)")
        }

        // A content-type that is not gRPC on a gRPC path: HTTP 415.
        let plain = try await client.unary(path: GRPCPath.check, body: GRPCWire.frame(check), contentType: "text/plain")
        #expect(plain.httpStatus == 415, "\(plain)")
        try await Self.expectGoodCheck(client, "check after a text/plain request")

        // One message over the default 4 MiB maximum: RESOURCE_EXHAUSTED.
        var big = Messages.checkRequest()
        big.attributes.request.http.body = String(repeating: "a", count: 4 * 1024 * 1024 + 1)
        let oversized = try await client.unary(path: GRPCPath.check, body: try GRPCWire.frame(big), timeout: .seconds(30))
        Self.expectGRPCError(oversized, 8, "a message over 4 MiB")
        try await Self.expectGoodCheck(client, "check after an oversized message")

        // Good and bad calls at the same time on the same connection.
        try await withThrowingTaskGroup(of: Void.self) { group in
          for index in 0..<50 {
            group.addTask { try await Self.expectGoodCheck(client, "concurrent check \(index)") }
            if index < cases.count {
              let entry = cases[index]
              group.addTask {
                let response = try await client.unary(path: entry.path, body: entry.body, contentType: entry.contentType)
                Self.expectGRPCError(response, entry.code, "concurrently: \(entry.what)")
              }
            }
          }
          try await group.waitForAll()
        }
        #expect(client.goAwayCount == 0, "the server sent GOAWAY on a connection that only saw stream errors")
        #expect(!client.isClosed)
        #expect(augmenter.process.isRunning)
      }
    }
  }
}
