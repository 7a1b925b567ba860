//===----------------------------------------------------------------------===//
// Augmenter — session resumption, seen by `openssl s_client -sess_out/-sess_in` and by the
// server's TLSHandshakeCompleted.
//===----------------------------------------------------------------------===//

import Foundation
import TLS
import TestCertificates
import TestSupport
import Testing

@Suite("TLSServerHandler: session resumption")
struct TLSResumptionTests {
  private func resume(server: TestServer, arguments: [String]) async throws -> (first: String, second: String) {
    let session = "\(Fixtures.pki.directory)/session-\(UUID().uuidString).pem"
    defer { try? FileManager.default.removeItem(atPath: session) }
    let first = try await sClient(port: server.port, arguments: arguments + ["-sess_out", session])
    let second = try await sClient(port: server.port, arguments: arguments + ["-sess_in", session])
    return (first, second)
  }

  @Test("a session is resumed (tickets in TLS 1.3, tickets or ids in 1.2)", arguments: ["-tls1_3", "-tls1_2"])
  func resumption(version: String) async throws {
    try await TestServer.with(context: try Fixtures.serverContext()) { server in

      let (first, second) = try await self.resume(server: server, arguments: [version])
      let expectedVersion = version == "-tls1_3" ? "TLSv1.3" : "TLSv1.2"
      #expect(first.contains("New, \(expectedVersion)"), "\(first)")
      #expect(second.contains("Reused, \(expectedVersion)"), "\(second)")

      let records = try await eventually("two closed connections", every: .milliseconds(5)) { () -> [ServerConnectionRecord]? in
        let all = server.recorder.all
        return all.count == 2 && all.allSatisfy(\.closed) ? all : nil
      }
      #expect(records[0].handshake?.sessionReused == false)
      #expect(records[1].handshake?.sessionReused == true)
      #expect(records[1].handshake?.protocolVersion == expectedVersion)
      #expect(records.allSatisfy { $0.errors.isEmpty })
    }
  }

  @Test("resumption works with client verification and keeps the verified identity")
  func resumptionWithClientCertificate() async throws {
    try await TestServer.with(
      context: try Fixtures.serverContext(clientCA: true, requireClientCertificate: true)
    ) { server in

      let identity = Fixtures.clientWithURI
      let (first, second) = try await self.resume(
        server: server,
        arguments: ["-cert", identity.certificatePath, "-key", identity.keyPath]
      )
      #expect(first.contains("New, TLSv1.3"), "\(first)")
      #expect(second.contains("Reused, TLSv1.3"), "\(second)")

      let records = try await eventually("two closed connections", every: .milliseconds(5)) { () -> [ServerConnectionRecord]? in
        let all = server.recorder.all
        return all.count == 2 && all.allSatisfy(\.closed) ? all : nil
      }
      #expect(records[1].handshake?.sessionReused == true)
      #expect(records[0].handshake?.peerIdentity == "spiffe://cluster.local/ns/edge/sa/envoy")
      #expect(records[1].handshake?.peerIdentity == "spiffe://cluster.local/ns/edge/sa/envoy")
    }
  }
}
