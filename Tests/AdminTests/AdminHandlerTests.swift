//===----------------------------------------------------------------------===//
// The admin endpoints over HTTP/1.1: AdminHandler behind the HTTP/1.1 server handlers.
//===----------------------------------------------------------------------===//

import AugmenterCore
import Foundation
import Synchronization
import TestSupport
import Testing

@testable import Admin

@Suite struct AdminHandlerTests {
  private func connection(draining: Bool = false) throws -> (EmbeddedHTTP1Connection, ProviderRegistry, ManualClock) {
    let config = try makeConfig()
    let registry = ProviderRegistry(config: config)
    let clock = ManualClock()
    let state = AdminState(registry: registry, clock: clock, isDraining: { draining })
    return (try EmbeddedHTTP1Connection(AdminHandler(state: state)), registry, clock)
  }

  @Test func healthzIsAlways200() throws {
    let (connection, _, _) = try self.connection(draining: true)
    try connection.send("GET /healthz HTTP/1.1\r\nhost: a\r\n\r\n")
    let text = try connection.output()
    #expect(text.hasPrefix("HTTP/1.1 200 OK\r\n"), "\(text)")
    #expect(text.hasSuffix("\r\n\r\nok\n"), "\(text)")
  }

  @Test func readyzFollowsTheRequiredProvider() throws {
    let (connection, registry, clock) = try self.connection()
    try connection.send("GET /readyz HTTP/1.1\r\nhost: a\r\n\r\n")
    let before = try connection.output()
    #expect(before.hasPrefix("HTTP/1.1 503 Service Unavailable\r\n"), "\(before)")
    #expect(before.contains("no usable headers from sidecar"))
    _ = registry.states[0].publish(
      [HeaderField(name: "authorization", value: "Bearer secret-token")], fetchedAt: clock.now(), fetchedAtWall: clock.wallNow())
    try connection.send("GET /readyz HTTP/1.1\r\nhost: a\r\n\r\n")
    #expect(try connection.output().hasPrefix("HTTP/1.1 200 OK\r\n"))
    // /status shows the provider but never the value it serves.
    try connection.send("GET /status HTTP/1.1\r\nhost: a\r\n\r\n")
    let status = try connection.output()
    #expect(status.contains("\"sidecar\""), "\(status)")
    #expect(!status.contains("secret-token"))
  }

  @Test func readyzIs503WhileDraining() throws {
    let (connection, _, _) = try self.connection(draining: true)
    try connection.send("GET /readyz HTTP/1.1\r\nhost: a\r\n\r\n")
    let text = try connection.output()
    #expect(text.hasPrefix("HTTP/1.1 503 Service Unavailable\r\n"), "\(text)")
    #expect(text.contains("shutting down"))
  }

  @Test func headHasNoBodyAndUnknownPathsAre404() throws {
    let (connection, _, _) = try self.connection()
    try connection.send("HEAD /healthz HTTP/1.1\r\nhost: a\r\n\r\nGET /nope HTTP/1.1\r\nhost: a\r\n\r\n")
    let text = try connection.output()
    let responses = text.components(separatedBy: "HTTP/1.1 ").dropFirst()
    #expect(responses.count == 2, "\(text)")
    #expect(responses.first?.hasPrefix("200 OK") == true)
    #expect(responses.first?.hasSuffix("\r\n\r\n") == true, "HEAD answered with a body: \(text)")
    #expect(responses.last?.hasPrefix("404 Not Found") == true, "\(text)")
  }
}
