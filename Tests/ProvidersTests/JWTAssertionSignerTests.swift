//===----------------------------------------------------------------------===//
// private_key_jwt assertions: the JOSE form of ECDSA signatures and key checks (the signatures
// themselves are verified by Authlib in the end-to-end tests).
//===----------------------------------------------------------------------===//

import AugmenterCore
import Foundation
import Testing

@testable import Providers

@Suite struct JWTAssertionSignerTests {
  @Test func derToRawECDSA() {
    // r with a leading zero (a high bit set), s shorter than 32 bytes.
    let r = [UInt8](repeating: 0xAB, count: 32)
    let s = [UInt8](repeating: 0x01, count: 31)
    let der: [UInt8] = [0x30, 2 + 33 + 2 + 31, 0x02, 33, 0x00] + r + [0x02, 31] + s
    #expect(JWTAssertionSigner.rawECDSASignature(fromDER: der, size: 32) == r + [0x00] + s)
    #expect(JWTAssertionSigner.rawECDSASignature(fromDER: [0x30, 0x00], size: 32) == nil)
    #expect(JWTAssertionSigner.rawECDSASignature(fromDER: Array(der.dropLast()), size: 32) == nil)
  }

  @Test func refusesAKeyOfTheWrongKindWithoutQuotingIt() throws {
    let key = FileManager.default.temporaryDirectory.appendingPathComponent("augmenter-jwt-\(UUID().uuidString).pem")
    try Data("-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n".utf8).write(to: key)
    do {
      _ = try JWTAssertionSigner.assertion(clientID: "c", audience: "a", keyFile: key.path, algorithm: .es256, keyID: nil)
      Issue.record("a broken key signed something")
    } catch {
      #expect("\(error)" == "private_key_file \(key.path): not a PEM private key")
    }
    do {
      _ = try JWTAssertionSigner.assertion(clientID: "c", audience: "a", keyFile: "/nonexistent/k", algorithm: .rs256, keyID: nil)
      Issue.record("a missing key signed something")
    } catch {
      #expect("\(error)".hasPrefix("cannot read private_key_file /nonexistent/k"))
    }
  }
}
