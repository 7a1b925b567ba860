//===----------------------------------------------------------------------===//
// The gRPC ext_authz adapter: protobuf in, decision, protobuf out.
//===----------------------------------------------------------------------===//

import AugmenterCore
import EnvoyAPI
import Foundation
import GRPC
import HTTP2
import NIOCore
import NIOHTTP1
import SwiftProtobuf
import TestSupport
import Testing

@testable import ExtAuthz

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

  private func service(_ config: AugmenterConfig, registry: ProviderRegistry, clock: ManualClock) -> ExtAuthzCheckService {
    ExtAuthzCheckService(decider: Decider(config: config, registry: registry), clock: clock)
  }

  @Test func allowCarriesProviderAndStaticHeadersAsOverwrites() throws {
    let config = try makeConfig()
    let registry = ProviderRegistry(config: config)
    let clock = ManualClock()
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
    let clock = ManualClock()
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
    let clock = ManualClock()
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
    let service = self.service(config, registry: ProviderRegistry(config: config), clock: ManualClock())
    #expect {
      try service.check(ByteBuffer(bytes: [0xFF, 0xFF, 0xFF]))
    } throws: { error in
      let status = error as? GRPCStatus
      return status?.code == .invalidArgument && status?.message.contains("envoy.service.auth.v3.CheckRequest") == true
    }
  }
}

// MARK: - Policy: how each decision maps onto the wire, in both modes

/// A service over `yaml` (one provider `sidecar` published with `published` when given).
private func policyServices(
  _ yaml: String, published: [HeaderField]? = nil
) throws -> (grpc: ExtAuthzCheckService, http: HTTPModeCheckService) {
  let config = try ConfigLoader.parse(yaml, environment: [:])
  let registry = ProviderRegistry(config: config)
  let clock = ManualClock()
  if let published {
    _ = registry.states[0].publish(published, fetchedAt: clock.now(), fetchedAtWall: clock.wallNow())
  }
  let decider = Decider(config: config, registry: registry)
  return (ExtAuthzCheckService(decider: decider, clock: clock), HTTPModeCheckService(decider: decider, clock: clock))
}

private func grpcCheck(
  _ service: ExtAuthzCheckService, path: String = "/a?b=c", headers: [String: String] = ["x-request-id": "req-1"],
  source: String? = nil, context: [String: String] = [:]
) throws -> Envoy_Service_Auth_V3_CheckResponse {
  var request = Envoy_Service_Auth_V3_CheckRequest()
  request.attributes.request.http.method = "GET"
  request.attributes.request.http.path = path
  request.attributes.request.http.host = "api.example"
  request.attributes.request.http.scheme = "http"
  request.attributes.request.http.headers = headers
  if let source {
    var address = Envoy_Config_Core_V3_SocketAddress()
    address.address = source
    address.portValue = 40000
    request.attributes.source.address.socketAddress = address
  }
  request.attributes.contextExtensions = context
  let bytes = try service.check(ByteBuffer(bytes: try request.serializedBytes() as [UInt8]))
  return try Envoy_Service_Auth_V3_CheckResponse(serializedBytes: bytes)
}

private func httpCheck(
  _ service: HTTPModeCheckService, path: String = "/a?b=c", headers: [String: String] = ["x-request-id": "req-1"]
) -> HTTPModeCheckService.Answer {
  let fields = headers.sorted { $0.key < $1.key }.map { HeaderField(name: $0.key, value: $0.value) }
  return service.check(
    method: "GET", path: path, authority: "api.example", scheme: "http",
    header: { name in headers[name] }, headers: { fields })
}

@Suite struct PolicyAdapterTests {
  static let actions = """
    headers:
      x-set: {value: s}
      x-append: {value: a, action: append}
      x-add: {value: n, action: add_if_absent}
      x-gone: {action: remove}
      x-gone-too: {action: remove}
      x-hello: {template: "Hello world from {authority}"}
    """

  @Test func grpcAllowMapsEachAction() throws {
    let (grpc, _) = try policyServices(Self.actions)
    // The client sent none of the headers: append and add_if_absent become plain sets.
    var response = try grpcCheck(grpc)
    #expect(response.status.code == 0)
    var ok = response.okResponse
    #expect(
      ok.headers.map { "\($0.header.key)=\($0.header.value) append=\($0.append.value)" } == [
        "x-set=s append=false", "x-append=a append=false", "x-add=n append=false",
        "x-hello=Hello world from api.example append=false",
      ])
    #expect(ok.headers.allSatisfy { $0.hasAppend })
    #expect(ok.headersToRemove == ["x-gone", "x-gone-too"])
    // The client sent them: append joins (append=true), add_if_absent leaves the client's value.
    response = try grpcCheck(grpc, headers: ["x-append": "client", "x-add": "client", "x-set": "client"])
    ok = response.okResponse
    #expect(
      ok.headers.map { "\($0.header.key)=\($0.header.value) append=\($0.append.value)" } == [
        "x-set=s append=false", "x-append=a append=true", "x-hello=Hello world from api.example append=false",
      ])
  }

  @Test func httpModeAllowMapsEachAction() throws {
    let (_, http) = try policyServices(Self.actions)
    var answer = httpCheck(http)
    #expect(answer.status == 200)
    #expect(answer.body.isEmpty)
    #expect(
      answer.headers == [
        HeaderField(name: "x-set", value: "s"), HeaderField(name: "x-append", value: "a"), HeaderField(name: "x-add", value: "n"),
        HeaderField(name: "x-hello", value: "Hello world from api.example"),
        HeaderField(name: "x-envoy-auth-headers-to-remove", value: "x-gone, x-gone-too"),
      ])
    answer = httpCheck(http, headers: ["x-append": "client", "x-add": "client"])
    #expect(answer.headers.map(\.name) == ["x-set", "x-append", "x-hello", "x-envoy-auth-headers-to-remove"])
    #expect(answer.headers.allSatisfy { $0.action == .set }, "HTTP mode has no per-header action on the wire")
  }

  static let outcomes = """
    client_address: {from: header, header: x-real-ip}
    http_mode: {path_prefix: /ext-authz}
    problem_types:
      "429": {type: "https://errors.example/rate-limited", title: Slow down}
    rules:
      - match: {client_cidr: [203.0.113.7]}
        redirect: {status: 302, location: "https://other-host.example{path}"}
      - match: {path_prefix: /admin}
        deny: {status: 403, detail: "admin is closed", headers: {x-reason: closed}}
      - match: {path_prefix: /limited}
        rate_limit: {requests_per_second: 1, burst: 1}
    """

  @Test func grpcLocalAnswers() throws {
    let (grpc, _) = try policyServices(Self.outcomes)
    // Redirect.
    var response = try grpcCheck(grpc, path: "/orders/7?x=1", headers: ["x-real-ip": "203.0.113.7"])
    #expect(response.status.code == 7)
    var denied = response.deniedResponse
    #expect(denied.status.code == .found)
    #expect(denied.headers.map { "\($0.header.key)=\($0.header.value)" } == ["location=https://other-host.example/orders/7?x=1"])
    #expect(denied.headers.allSatisfy { $0.hasAppend && !$0.append.value })
    // Deny.
    response = try grpcCheck(grpc, path: "/admin/x")
    denied = response.deniedResponse
    #expect(response.status.code == 7)
    #expect(denied.status.code == .forbidden)
    #expect(denied.headers.map { "\($0.header.key)=\($0.header.value)" } == ["content-type=application/problem+json", "x-reason=closed"])
    let problem = try #require(try JSONSerialization.jsonObject(with: Data(denied.body.utf8)) as? [String: Any])
    #expect(problem["status"] as? Int == 403)
    #expect(problem["detail"] as? String == "admin is closed")
    #expect(problem["instance"] as? String == "req-1")
    // Rate limit: the second request in the same instant.
    _ = try grpcCheck(grpc, path: "/limited")
    response = try grpcCheck(grpc, path: "/limited")
    #expect(response.status.code == 8)
    denied = response.deniedResponse
    #expect(denied.status.code == .tooManyRequests)
    #expect(
      Set(denied.headers.map(\.header.key)) == ["content-type", "retry-after", "ratelimit-limit", "ratelimit-remaining", "ratelimit-reset"])
    let limited = try #require(try JSONSerialization.jsonObject(with: Data(denied.body.utf8)) as? [String: Any])
    #expect(limited["type"] as? String == "https://errors.example/rate-limited")
    #expect(limited["title"] as? String == "Slow down")
    // Nothing matches: allow.
    #expect(try grpcCheck(grpc, path: "/free").status.code == 0)
  }

  @Test func httpModeLocalAnswersAndPathPrefix() throws {
    let (_, http) = try policyServices(Self.outcomes)
    // Envoy's path_prefix is stripped before rules and templates see the path.
    var answer = httpCheck(http, path: "/ext-authz/orders/7?x=1", headers: ["x-real-ip": "203.0.113.7"])
    #expect(answer.status == 302)
    #expect(answer.headers == [HeaderField(name: "location", value: "https://other-host.example/orders/7?x=1")])
    answer = httpCheck(http, path: "/ext-authz/admin/x")
    #expect(answer.status == 403)
    #expect(answer.headers.first == HeaderField(name: "content-type", value: "application/problem+json"))
    let problem = try #require(try JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as? [String: Any])
    #expect(problem["instance"] as? String == "req-1")
    _ = httpCheck(http, path: "/ext-authz/limited")
    answer = httpCheck(http, path: "/ext-authz/limited")
    #expect(answer.status == 429)
    #expect(answer.headers.contains(HeaderField(name: "retry-after", value: "1")))
    #expect(httpCheck(http, path: "/ext-authz/free").status == 200)
  }

  @Test func unavailableIs503InBothModes() throws {
    let (grpc, http) = try policyServices(
      """
      providers:
        - name: sidecar
          url: http://127.0.0.1:1/h
      rules:
        - match: {path_prefix: /open}
          allow: {on_unavailable: allow, headers: {x-route: open}}
      """)
    let response = try grpcCheck(grpc, path: "/closed")
    #expect(response.status.code == 14)
    #expect(response.deniedResponse.status.code == .serviceUnavailable)
    #expect(httpCheck(http, path: "/closed").status == 503)
    #expect(try grpcCheck(grpc, path: "/open").okResponse.headers.map(\.header.key) == ["x-route"])
    #expect(httpCheck(http, path: "/open").headers == [HeaderField(name: "x-route", value: "open")])
  }

  @Test func grpcAttributesCarryPeersContextAndHeaders() throws {
    var request = Envoy_Service_Auth_V3_CheckRequest()
    request.attributes.request.http.headers = ["x-a": "1", "x-request-id": "id"]
    request.attributes.source.address.socketAddress.address = "192.0.2.7"
    request.attributes.destination.address.socketAddress.address = "10.0.0.1"
    request.attributes.contextExtensions = ["tenant": "a"]
    let attributes = ExtAuthzCheckService.attributes(of: request)
    #expect(attributes.sourceAddress == "192.0.2.7")
    #expect(attributes.destinationAddress == "10.0.0.1")
    #expect(attributes.contextExtensions == ["tenant": "a"])
    #expect(attributes.headers["x-a"] == "1")
    #expect(attributes.requestID == "id")

    // encode_raw_headers: header_map (#13) with raw values and a duplicate.
    var raw = Envoy_Service_Auth_V3_CheckRequest()
    raw.attributes.request.http.headerMap.headers = [("X-Forwarded-For", "1.1.1.1"), ("x-forwarded-for", "2.2.2.2"), ("x-request-id", "r")]
      .map { key, value in
        var entry = Envoy_Config_Core_V3_HeaderValue()
        entry.key = key
        entry.rawValue = Data(value.utf8)
        return entry
      }
    let rawAttributes = ExtAuthzCheckService.attributes(of: raw)
    #expect(rawAttributes.headers["x-forwarded-for"] == "1.1.1.1,2.2.2.2")
    #expect(rawAttributes.requestID == "r")
    #expect(rawAttributes.sourceAddress == nil)
  }

  @Test func grpcPeerAddressDrivesClientRulesByDefault() throws {
    let (grpc, _) = try policyServices("rules:\n  - match: {client_cidr: [192.0.2.0/24]}\n    deny: {status: 403}\n")
    #expect(try grpcCheck(grpc, source: "192.0.2.9").deniedResponse.status.code == .forbidden)
    #expect(try grpcCheck(grpc, source: "198.51.100.1").status.code == 0)
  }

  @Test func grpcContextExtensionsSelectProfiles() throws {
    let (grpc, _) = try policyServices(
      """
      profiles:
        a: {headers: {x-tenant: a}}
        b: {headers: {x-tenant: b}}
      rules:
        - match: {context_extensions: {tenant: a}}
          allow: {profile: a}
        - match: {context_extensions: {tenant: b}}
          allow: {profile: b}
      """)
    #expect(try grpcCheck(grpc, context: ["tenant": "a"]).okResponse.headers.map(\.header.value) == ["a"])
    #expect(try grpcCheck(grpc, context: ["tenant": "b"]).okResponse.headers.map(\.header.value) == ["b"])
  }

  @Test func httpModeHasNoPeerAndCopiesHeadersOnlyWhenNeeded() throws {
    // from: peer never matches in HTTP mode (the TCP peer is Envoy).
    let (_, http) = try policyServices("rules:\n  - match: {client_cidr: [\"0.0.0.0/0\", \"::/0\"]}\n    deny: {status: 403}\n")
    #expect(httpCheck(http).status == 200)

    let (_, plain) = try policyServices("headers: {x-a: b}\n")
    var copied = 0
    let answer = plain.check(
      method: "GET", path: "/", authority: "a", scheme: "http", header: { _ in nil },
      headers: {
        copied += 1
        return []
      })
    #expect(answer.headers == [HeaderField(name: "x-a", value: "b")])
    #expect(copied == 0, "a configuration without policy must not copy the request headers")
  }

  @Test func pathPrefixStripping() {
    #expect(HTTPModeCheckService.strip("/ext-authz", from: "/ext-authz/a?b") == "/a?b")
    #expect(HTTPModeCheckService.strip("/ext-authz", from: "/ext-authz") == "/")
    #expect(HTTPModeCheckService.strip("/ext-authz", from: "/ext-authz?x=1") == "/?x=1")
    #expect(HTTPModeCheckService.strip("/ext-authz", from: "/ext-authzfoo") == "/ext-authzfoo")
    #expect(HTTPModeCheckService.strip("/ext-authz", from: "/other") == "/other")
    #expect(HTTPModeCheckService.strip(nil, from: "/ext-authz/a") == "/ext-authz/a")
  }
}
