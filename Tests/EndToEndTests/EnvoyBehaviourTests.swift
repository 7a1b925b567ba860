//===----------------------------------------------------------------------===//
// End-to-end tests: Envoy 1.40 applies CheckResponses as Augmenter relies on (stub authz server).
//===----------------------------------------------------------------------===//

import EnvoyAPI
import Foundation
import SwiftProtobuf
import Testing

extension EndToEnd {
  /// How the real Envoy 1.40 applies a CheckResponse, pinned with a stub authorization server
  /// (not Augmenter). PROTOCOLS.md §2.2-2.3 describe Envoy's source; these tests are the word on
  /// the binary we ship with, and explain why Augmenter sends `append: false`.
  @Suite("Envoy 1.40 applies CheckResponses as Augmenter relies on (stub authz server)")
  struct EnvoyBehaviour {
    private static func allow(_ headers: [(String, String, Bool?)]) -> Envoy_Service_Auth_V3_CheckResponse {
      var response = Envoy_Service_Auth_V3_CheckResponse()
      response.status.code = 0
      var ok = Envoy_Service_Auth_V3_OkHttpResponse()
      ok.headers = headers.map { name, value, append in
        var option = Envoy_Config_Core_V3_HeaderValueOption()
        option.header.key = name
        option.header.value = value
        if let append { option.append = Google_Protobuf_BoolValue(append) }
        return option
      }
      response.okResponse = ok
      return response
    }

    private struct Setup {
      let stub: StubAuthorizationServer
      let upstream: EchoUpstream
      let envoy: EnvoyProcess

      func send(_ headers: [HeaderField]) async throws -> (HTTPResponse, ReceivedRequest?) {
        let path = "/envoy-behaviour/\(UUID().uuidString)"
        let response = try await envoy.send(path: path, headers: headers)
        return (response, upstream.request(uri: path))
      }
    }

    private static func start(_ scope: TestScope, _ response: Envoy_Service_Auth_V3_CheckResponse) async throws -> Setup {
      let stub = try await StubAuthorizationServer.start(scope: scope, response: response)
      let upstream = try await EchoUpstream.start(scope: scope)
      let envoy = try await EnvoyProcess.start(scope: scope, augmenterPort: stub.port, upstreamPort: upstream.port)
      return Setup(stub: stub, upstream: upstream, envoy: envoy)
    }

    private static let clientHeaders = [
      HeaderField("authorization", "Bearer client-forged"),
      HeaderField("x-tenant", "forged-1"),
      HeaderField("x-tenant", "forged-2"),
    ]

    @Test("append=false replaces every client-sent value; absent names are added")
    func appendFalseReplaces() async throws {
      try await withTestScope { scope in
        let setup = try await Self.start(
          scope,
          Self.allow([
            ("authorization", "Bearer injected", false), ("x-tenant", "acme", false), ("x-new", "added", false),
          ]))
        let (response, received) = try await setup.send(Self.clientHeaders)
        #expect(response.status == 200, "\(response)")
        let upstream = try #require(received, "the request did not reach the upstream: \(response)")
        #expect(upstream.values("authorization") == ["Bearer injected"])
        #expect(upstream.values("x-tenant") == ["acme"])
        #expect(upstream.values("x-new") == ["added"])
      }
    }

    @Test("append unset behaves like append=false (replace)")
    func appendUnsetReplaces() async throws {
      try await withTestScope { scope in
        let setup = try await Self.start(
          scope, Self.allow([("authorization", "Bearer injected", nil), ("x-tenant", "acme", nil)]))
        let (response, received) = try await setup.send(Self.clientHeaders)
        let upstream = try #require(received, "the request did not reach the upstream: \(response)")
        #expect(upstream.values("authorization") == ["Bearer injected"])
        #expect(upstream.values("x-tenant") == ["acme"])
      }
    }

    @Test("append=true joins onto the client's value and adds nothing when absent (so Augmenter must not use it)")
    func appendTrueKeepsClientValue() async throws {
      try await withTestScope { scope in
        let setup = try await Self.start(
          scope, Self.allow([("authorization", "Bearer injected", true), ("x-absent", "added", true)]))
        let (response, received) = try await setup.send(Self.clientHeaders)
        let upstream = try #require(received, "the request did not reach the upstream: \(response)")
        // Observed on 1.40 (matches PROTOCOLS.md §2.2): appendCopy joins onto the client's value
        // with ",", and is a no-op when the client did not send the header.
        #expect(upstream.values("authorization") == ["Bearer client-forged,Bearer injected"])
        #expect(upstream.values("x-absent") == [])
      }
    }

    @Test("a denial's status, content-type and body reach the client; the upstream sees nothing")
    func denialReachesClient() async throws {
      try await withTestScope { scope in
        var denied = Envoy_Service_Auth_V3_CheckResponse()
        denied.status.code = 14
        var deniedResponse = Envoy_Service_Auth_V3_DeniedHttpResponse()
        deniedResponse.status.code = .serviceUnavailable
        var contentType = Envoy_Config_Core_V3_HeaderValueOption()
        contentType.header.key = "content-type"
        contentType.header.value = "application/problem+json"
        deniedResponse.headers = [contentType]
        deniedResponse.body = #"{"title":"stub says no","status":503}"#
        denied.deniedResponse = deniedResponse
        let setup = try await Self.start(scope, denied)
        let (response, received) = try await setup.send([])
        #expect(response.status == 503)
        #expect(response.header("content-type") == "application/problem+json")
        #expect(response.jsonObject()?["title"] as? String == "stub says no")
        #expect(received == nil)
      }
    }

    @Test("the CheckRequest Envoy sends carries the client's headers (what scripts and h2load mimic)")
    func checkRequestShape() async throws {
      try await withTestScope { scope in
        let setup = try await Self.start(scope, Self.allow([]))
        _ = try await setup.send(Self.clientHeaders)
        let request = try #require(setup.stub.requests.last)
        let http = request.attributes.request.http
        #expect(http.method == "GET")
        #expect(http.path.hasPrefix("/envoy-behaviour/"))
        #expect(http.headers["authorization"] == "Bearer client-forged")
        #expect(http.headers["x-tenant"] == "forged-1,forged-2")
        print("Envoy 1.40 CheckRequest: \(try request.jsonString())")
      }
    }
  }
}
