//===----------------------------------------------------------------------===//
// gRPC health and the admin state behind the probes and /status.
//===----------------------------------------------------------------------===//

import AugmenterCore
import EnvoyAPI
import Foundation
import GRPC
import NIOCore
import NIOHTTP1
import SwiftProtobuf
import TestSupport
import Testing

@testable import Admin

@Suite struct HealthServiceTests {
  private func call(_ service: HealthService, _ name: String) throws(GRPCStatus) -> Grpc_Health_V1_HealthCheckResponse.ServingStatus {
    var request = Grpc_Health_V1_HealthCheckRequest()
    request.service = name
    let bytes = try service.check(ByteBuffer(bytes: (try? request.serializedBytes() as [UInt8]) ?? []))
    return (try? Grpc_Health_V1_HealthCheckResponse(serializedBytes: bytes).status) ?? .unknown
  }

  @Test func followsReadinessForKnownNames() throws {
    let ready = Flag()
    let service = HealthService { ready.value }
    #expect(try self.call(service, "") == .notServing)
    ready.value = true
    #expect(try self.call(service, "") == .serving)
    #expect(try self.call(service, "envoy.service.auth.v3.Authorization") == .serving)
  }

  @Test func unknownServiceIsNotFound() {
    let service = HealthService { true }
    #expect(throws: GRPCStatus(.notFound, "unknown service \"nope\"")) {
      _ = try self.call(service, "nope")
    }
  }
}

/// A Bool the test flips.
final class Flag: @unchecked Sendable {
  var value = false
}

@Suite struct AdminStateTests {
  @Test func readyzFollowsProvidersAndDraining() throws {
    let config = try makeConfig()
    let registry = ProviderRegistry(config: config)
    let clock = ManualClock()
    let draining = Flag()
    let admin = AdminState(registry: registry, clock: clock, isDraining: { draining.value })
    var (status, _, body) = admin.respond(method: .GET, uri: "/readyz")
    #expect(status == .serviceUnavailable)
    #expect(body.contains("sidecar"))
    _ = registry.states[0].publish(
      [HeaderField(name: "x-a", value: "secret-value")], fetchedAt: clock.now(), fetchedAtWall: clock.wallNow())
    (status, _, _) = admin.respond(method: .GET, uri: "/readyz")
    #expect(status == .ok)
    clock.advance(by: .seconds(16))  // past ttl + max_stale
    (status, _, _) = admin.respond(method: .GET, uri: "/readyz")
    #expect(status == .serviceUnavailable)
    _ = registry.states[0].publish(
      [HeaderField(name: "x-a", value: "secret-value")], fetchedAt: clock.now(), fetchedAtWall: clock.wallNow())
    draining.value = true
    (status, _, body) = admin.respond(method: .GET, uri: "/readyz")
    #expect(status == .serviceUnavailable)
    #expect(body.contains("shutting down"))
  }

  @Test func statusShowsDigestButNeverValues() throws {
    let config = try makeConfig()
    let registry = ProviderRegistry(config: config)
    let clock = ManualClock()
    _ = registry.states[0].publish(
      [HeaderField(name: "authorization", value: "Bearer super-secret")], fetchedAt: clock.now(), fetchedAtWall: clock.wallNow())
    let admin = AdminState(registry: registry, clock: clock, isDraining: { false })
    let (status, contentType, body) = admin.respond(method: .GET, uri: "/status")
    #expect(status == .ok)
    #expect(contentType == "application/json")
    #expect(!body.contains("super-secret"))
    let json = try #require(try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])
    let providers = try #require(json["providers"] as? [[String: Any]])
    #expect(providers.first?["name"] as? String == "sidecar")
    #expect(providers.first?["header_count"] as? Int == 1)
    #expect((providers.first?["digest"] as? String)?.isEmpty == false)
    #expect(json["ready"] as? Bool == true)
  }

  @Test func unknownPathAndMethod() throws {
    let config = try makeConfig()
    let admin = AdminState(registry: ProviderRegistry(config: config), clock: ManualClock(), isDraining: { false })
    #expect(admin.respond(method: .GET, uri: "/nope").0 == .notFound)
    #expect(admin.respond(method: .POST, uri: "/healthz").0 == .methodNotAllowed)
    #expect(admin.respond(method: .GET, uri: "/healthz?x=1").0 == .ok)
  }
}
