//===----------------------------------------------------------------------===//
// HTTP-mode checks over HTTP/1.1: HTTP1CheckHandler behind the HTTP/1.1 server handlers.
//===----------------------------------------------------------------------===//

import AugmenterCore
import Foundation
import HTTP1
import NIOCore
import TestSupport
import Testing

@testable import ExtAuthz

@Suite struct HTTP1CheckHandlerTests {
  /// A connection whose checks see `sidecar`'s headers (`authorization: Bearer t`) and the
  /// static `x-static`; bodies above 16 bytes are refused.
  private func connection() throws -> EmbeddedHTTP1Connection {
    let config = try makeConfig()
    let registry = ProviderRegistry(config: config)
    let clock = ManualClock()
    _ = registry.states[0].publish(
      [HeaderField(name: "authorization", value: "Bearer t")], fetchedAt: clock.now(), fetchedAtWall: clock.wallNow())
    let service = HTTPModeCheckService(decider: Decider(config: config, registry: registry), clock: clock)
    return try EmbeddedHTTP1Connection(HTTP1CheckHandler(service: service, maxBodyBytes: 16))
  }

  @Test func anAllowedCheckIs200WithTheHeadersToAdd() throws {
    let connection = try self.connection()
    try connection.send("GET /orders HTTP/1.1\r\nhost: api.example\r\n\r\n")
    let text = try connection.output().lowercased()
    #expect(text.hasPrefix("http/1.1 200 ok\r\n"), "\(text)")
    #expect(text.contains("\r\nauthorization: bearer t\r\n"), "\(text)")
    #expect(text.contains("\r\nx-static: static-value\r\n"), "\(text)")
    #expect(connection.isOpen, "keep-alive connection closed")
  }

  @Test func aBodyPastTheLimitIs413AndClosesTheConnection() throws {
    let connection = try self.connection()
    try connection.send("POST /orders HTTP/1.1\r\nhost: api.example\r\ncontent-length: 17\r\n\r\n\(String(repeating: "b", count: 17))")
    let text = try connection.output()
    #expect(text.hasPrefix("HTTP/1.1 413 Payload Too Large\r\n"), "\(text)")
    #expect(text.lowercased().contains("connection: close"))
    #expect(!connection.isOpen)
  }

  @Test func aCheckInProgressAtShutdownIsAnsweredThenTheConnectionCloses() throws {
    let connection = try self.connection()
    try connection.send("POST /orders HTTP/1.1\r\nhost: api.example\r\ncontent-length: 2\r\n\r\n")
    connection.quiesce()
    #expect(connection.isOpen)
    try connection.send("ok")
    let text = try connection.output().lowercased()
    #expect(text.hasPrefix("http/1.1 200 ok\r\n"), "\(text)")
    #expect(text.contains("connection: close"), "\(text)")
    #expect(!connection.isOpen)
  }
}
