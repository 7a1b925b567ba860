//===----------------------------------------------------------------------===//
// The gRPC ext_authz adapter: protobuf in, decision, protobuf out.
//===----------------------------------------------------------------------===//

import AugmenterCore
@testable import AugmenterServer
import EnvoyAPI
import Foundation
import HTTP2
import NIOCore
import NIOHTTP1
import SwiftProtobuf
import Testing

@Suite struct ExtAuthzCheckServiceTests {
  private func checkRequest(headers: [String: String] = ["x-request-id": "req-1"]) throws -> ByteBuffer {
    var request = Envoy_Service_Auth_V3_CheckRequest()
    request.attributes.request.http.method = "GET"
    request.attributes.request.http.path = "/a?b=c"
    request.attributes.request.http.host = "api.example"
    request.attributes.request.http.scheme = "http"
    request.attributes.request.http.headers = headers
    return ByteBuffer(bytes: try request.serializedBytes() as [UInt8])
  }

  private func service(_ config: AugmenterConfig, registry: ProviderRegistry, clock: SetClock) -> ExtAuthzCheckService {
    ExtAuthzCheckService(decider: Decider(config: config, registry: registry), clock: clock)
  }

  @Test func allowCarriesProviderAndStaticHeadersAsOverwrites() throws {
    let config = try makeConfig()
    let registry = ProviderRegistry(config: config)
    let clock = SetClock()
    _ = registry.states[0].publish(
      [HeaderField(name: "authorization", value: "Bearer t"), HeaderField(name: "x-static", value: "from-provider")],
      fetchedAt: clock.now(),
      fetchedAtWall: clock.wallNow()
    )
    let bytes = try self.service(config, registry: registry, clock: clock).check(try self.checkRequest())
    let response = try Envoy_Service_Auth_V3_CheckResponse(serializedBytes: bytes)
    #expect(response.status.code == 0)
    guard case .okResponse(let ok) = response.httpResponse else {
      Issue.record("expected ok_response, got \(String(describing: response.httpResponse))")
      return
    }
    let pairs = ok.headers.map { "\($0.header.key)=\($0.header.value)" }
    #expect(pairs.sorted() == ["authorization=Bearer t", "x-static=static-value"])
    // Envoy honours only `append` for ok_response headers; it must be present and false.
    #expect(ok.headers.allSatisfy { $0.hasAppend && $0.append.value == false })
  }

  @Test func unavailableProviderWithDenyGives503ProblemJSON() throws {
    let config = try makeConfig(onUnavailable: .deny)
    let clock = SetClock()
    let bytes = try self.service(config, registry: ProviderRegistry(config: config), clock: clock)
      .check(try self.checkRequest())
    let response = try Envoy_Service_Auth_V3_CheckResponse(serializedBytes: bytes)
    #expect(response.status.code == 14)
    guard case .deniedResponse(let denied) = response.httpResponse else {
      Issue.record("expected denied_response")
      return
    }
    #expect(denied.status.code == .serviceUnavailable)
    #expect(denied.headers.contains { $0.header.key == "content-type" && $0.header.value == "application/problem+json" })
    let problem = try #require(
      try JSONSerialization.jsonObject(with: Data(denied.body.utf8)) as? [String: Any]
    )
    #expect(problem["status"] as? Int == 503)
    #expect(problem["instance"] as? String == "req-1")
    #expect((problem["detail"] as? String)?.contains("sidecar") == true)
  }

  @Test func staleHeadersStopAtTTLPlusMaxStale() throws {
    let config = try makeConfig(onUnavailable: .allow)
    let registry = ProviderRegistry(config: config)
    let clock = SetClock()
    _ = registry.states[0].publish([HeaderField(name: "x-token", value: "t")], fetchedAt: clock.now(), fetchedAtWall: clock.wallNow())
    let service = self.service(config, registry: registry, clock: clock)
    func keys() throws -> [String] {
      let response = try Envoy_Service_Auth_V3_CheckResponse(serializedBytes: try service.check(try self.checkRequest()))
      return response.okResponse.headers.map(\.header.key).sorted()
    }
    clock.advance(by: .seconds(14))  // past ttl (10s), within max_stale (5s)
    #expect(try keys() == ["x-static", "x-token"])
    clock.advance(by: .seconds(2))  // past ttl + max_stale: allow without the provider's headers
    #expect(try keys() == ["x-static"])
  }

  @Test func requestIDIsReadFromRawHeaderMap() throws {
    var request = Envoy_Service_Auth_V3_CheckRequest()
    var entry = Envoy_Config_Core_V3_HeaderValue()
    entry.key = "x-request-id"
    entry.rawValue = Data("raw-id".utf8)
    request.attributes.request.http.headerMap.headers = [entry]
    #expect(ExtAuthzCheckService.attributes(of: request).requestID == "raw-id")
  }

  @Test func garbageIsInvalidArgumentNamingTheMessageType() throws {
    let config = try makeConfig()
    let service = self.service(config, registry: ProviderRegistry(config: config), clock: SetClock())
    #expect {
      try service.check(ByteBuffer(bytes: [0xFF, 0xFF, 0xFF]))
    } throws: { error in
      let status = error as? GRPCStatus
      return status?.code == .invalidArgument && status?.message.contains("envoy.service.auth.v3.CheckRequest") == true
    }
  }
}

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
    let clock = SetClock()
    let draining = Flag()
    let admin = AdminState(registry: registry, clock: clock, isDraining: { draining.value })
    var (status, _, body) = admin.respond(method: .GET, uri: "/readyz")
    #expect(status == .serviceUnavailable)
    #expect(body.contains("sidecar"))
    _ = registry.states[0].publish([HeaderField(name: "x-a", value: "secret-value")], fetchedAt: clock.now(), fetchedAtWall: clock.wallNow())
    (status, _, _) = admin.respond(method: .GET, uri: "/readyz")
    #expect(status == .ok)
    clock.advance(by: .seconds(16))  // past ttl + max_stale
    (status, _, _) = admin.respond(method: .GET, uri: "/readyz")
    #expect(status == .serviceUnavailable)
    _ = registry.states[0].publish([HeaderField(name: "x-a", value: "secret-value")], fetchedAt: clock.now(), fetchedAtWall: clock.wallNow())
    draining.value = true
    (status, _, body) = admin.respond(method: .GET, uri: "/readyz")
    #expect(status == .serviceUnavailable)
    #expect(body.contains("shutting down"))
  }

  @Test func statusShowsDigestButNeverValues() throws {
    let config = try makeConfig()
    let registry = ProviderRegistry(config: config)
    let clock = SetClock()
    _ = registry.states[0].publish([HeaderField(name: "authorization", value: "Bearer super-secret")], fetchedAt: clock.now(), fetchedAtWall: clock.wallNow())
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
    let admin = AdminState(registry: ProviderRegistry(config: config), clock: SetClock(), isDraining: { false })
    #expect(admin.respond(method: .GET, uri: "/nope").0 == .notFound)
    #expect(admin.respond(method: .POST, uri: "/healthz").0 == .methodNotAllowed)
    #expect(admin.respond(method: .GET, uri: "/healthz?x=1").0 == .ok)
  }
}
