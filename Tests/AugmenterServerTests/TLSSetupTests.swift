//===----------------------------------------------------------------------===//
// TLS from the configuration: what `validate` and `serve` report for bad files, and the peer
// identity reaching the decision through the gRPC router and HTTP mode.
//===----------------------------------------------------------------------===//

import Admin
import AugmenterCore
import EnvoyAPI
import ExtAuthz
import Foundation
import GRPC
import HTTP1
import HTTP2
import NIOCore
import SwiftProtobuf
import TestCertificates
import TestSupport
import Testing

@testable import AugmenterServer

@Suite struct TLSSetupTests {
  private func config(_ yaml: String) throws -> AugmenterConfig {
    try ConfigLoader.parse(yaml, environment: [:])
  }

  @Test func goodFilesHaveNoProblems() throws {
    let pki = try TestPKI.create()
    defer { pki.removeFiles() }
    let server = try pki.issueServer()
    let config = try self.config(
      """
      tls: {cert: \(server.certificatePath), key: \(server.keyPath), client_ca: \(pki.caPath), require_client_cert: true}
      admin_tls: {cert: \(server.certificatePath), key: \(server.keyPath)}
      providers:
        - name: idp
          url: https://localhost:8443/headers
          tls: {ca: \(pki.caPath), cert: \(server.certificatePath), key: \(server.keyPath)}
      """)
    #expect(TLSSetup.problems(in: config) == [])
    let listener = try #require(try TLSSetup.listener(config.tls, key: "tls"))
    #expect(listener.certificateDescription.contains("CN=localhost"))
  }

  @Test func mismatchedKeyAndGarbageAreProblemsAtTheirKeys() throws {
    let pki = try TestPKI.create()
    defer { pki.removeFiles() }
    let server = try pki.issueServer()
    let other = try pki.issueServer(name: "other")
    let garbage = pki.directory + "/garbage.pem"
    try Data("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n".utf8).write(to: URL(fileURLWithPath: garbage))
    let config = try self.config(
      """
      tls: {cert: \(server.certificatePath), key: \(other.keyPath)}
      admin_tls: {cert: \(garbage), key: \(server.keyPath)}
      providers:
        - name: idp
          url: https://localhost:8443/headers
          tls: {ca: \(garbage)}
      """)
    let problems = TLSSetup.problems(in: config)
    #expect(problems.map(\.keyPath) == ["tls", "admin_tls", "providers[0].tls"], "\(problems)")
    #expect(
      problems[0].message.contains("SSL_CTX_use_PrivateKey failed (\(other.keyPath))")
        && problems[0].message.contains("key values mismatch"), "\(problems[0])")
    #expect(problems[1].message.contains(garbage), "\(problems[1])")
    #expect(problems[2].message.contains("ca \(garbage)"), "\(problems[2])")
  }

  @Test func peerIdentityReachesRulesAndTemplatesThroughTheRouter() throws {
    let config = try self.config(
      """
      headers:
        x-caller: {template: "{peer_identity}"}
      rules:
        - match: {peer_identity: ["spiffe://test/ns/edge/*"]}
          allow: {}
      default: {deny: {status: 403}}
      """)
    let registry = ProviderRegistry(config: config)
    let decider = Decider(config: config, registry: registry)
    let check = ExtAuthzCheckService(decider: decider, clock: ManualClock())
    let router = GRPCRouter(
      methods: [
        ExtAuthzCheckService.path: .unary { message, call throws(GRPCStatus) in try check.check(message, peerIdentity: call.peerIdentity) }
      ],
      maxMessageBytes: 1 << 20)

    var request = Envoy_Service_Auth_V3_CheckRequest()
    request.attributes.request.http.method = "GET"
    request.attributes.request.http.path = "/"
    request.attributes.request.http.host = "api.example"
    var body = ByteBuffer()
    body.writeInteger(UInt8(0))
    let message: [UInt8] = try request.serializedBytes()
    body.writeInteger(UInt32(message.count))
    body.writeBytes(message)
    let head = HTTP2RequestHead(
      streamID: 1, method: "POST", path: ExtAuthzCheckService.path, authority: "augmenter", scheme: "https",
      headers: [HTTP2Header("content-type", "application/grpc")])

    func respond(_ identity: String?) throws -> Envoy_Service_Auth_V3_CheckResponse {
      let response = router.respond(to: HTTP2Request(head: head, body: body, peerIdentity: identity), allocator: ByteBufferAllocator())
      var reply = try #require(response.body)
      reply.moveReaderIndex(forwardBy: 5)
      return try Envoy_Service_Auth_V3_CheckResponse(serializedBytes: Array(reply.readableBytesView))
    }
    let allowed = try respond("spiffe://test/ns/edge/sa/envoy")
    #expect(allowed.status.code == 0)
    #expect(allowed.okResponse.headers.map { "\($0.header.key)=\($0.header.value)" } == ["x-caller=spiffe://test/ns/edge/sa/envoy"])
    #expect(try respond("spiffe://test/ns/other/sa/envoy").deniedResponse.status.code.rawValue == 403)
    #expect(try respond(nil).deniedResponse.status.code.rawValue == 403)

    let http = HTTPModeCheckService(decider: decider, clock: ManualClock())
    let answer = http.check(
      method: "GET", path: "/", authority: "api.example", scheme: "https", header: { _ in nil },
      peerIdentity: "spiffe://test/ns/edge/sa/envoy")
    #expect(answer.status == 200)
    #expect(answer.headers.contains(HeaderField(name: "x-caller", value: "spiffe://test/ns/edge/sa/envoy")))
  }
}
