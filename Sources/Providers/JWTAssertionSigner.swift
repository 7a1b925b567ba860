//===----------------------------------------------------------------------===//
// Augmenter — client assertions for private_key_jwt (RFC 7523 §2.2, §3), signed with OpenSSL.
//===----------------------------------------------------------------------===//

import AugmenterCore
internal import COpenSSL
import Foundation

/// Builds and signs the JWT a client presents instead of a secret (`private_key_jwt`).
///
/// Signed with the system OpenSSL the project already links for TLS (`COpenSSL`), not
/// swift-crypto: that would compile a second copy of BoringSSL into the build for two
/// signature algorithms. The key file is read on every assertion, so a rotated key is used at
/// once; neither the key nor the assertion appears in an error.
enum JWTAssertionSigner {
  /// How long an assertion is valid: long enough for one token request, short enough that a
  /// captured one is soon useless (RFC 7523 §3 asks for an `exp`; servers reject long ones).
  static let lifetime: TimeInterval = 60

  /// `header.payload.signature` for `clientID` at `audience` (the token endpoint), signed with
  /// the PEM private key in `keyFile` by `algorithm`.
  static func assertion(
    clientID: String, audience: String, keyFile: String, algorithm: JWTSigningAlgorithm, keyID: String?, now: Date = Date()
  ) throws -> String {
    let pem = Data(try BoundedFileRead.bytes(keyFile, place: "private_key_file \(keyFile)", limit: CredentialFile.maxBytes))
    var header: [String: String] = ["alg": algorithm.jwsName, "typ": "JWT"]
    if let keyID { header["kid"] = keyID }
    let issuedAt = Int(now.timeIntervalSince1970)
    let claims: [String: Any] = [
      "iss": clientID, "sub": clientID, "aud": audience, "iat": issuedAt, "exp": issuedAt + Int(lifetime),
      "jti": UUID().uuidString,
    ]
    let headerJSON = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys, .withoutEscapingSlashes])
    let claimsJSON = try JSONSerialization.data(withJSONObject: claims, options: [.sortedKeys, .withoutEscapingSlashes])
    let signingInput = base64URL(headerJSON) + "." + base64URL(claimsJSON)
    let signature = try sign(Array(signingInput.utf8), pem: pem, algorithm: algorithm, keyFile: keyFile)
    return signingInput + "." + base64URL(Data(signature))
  }

  /// base64url without padding (RFC 7515 §2).
  static func base64URL(_ data: Data) -> String {
    data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
      .replacingOccurrences(of: "=", with: "")
  }

  /// SHA-256 signature of `input`: PKCS #1 v1.5 for RS256; for ES256 the raw `r || s` of 32
  /// bytes each that JWS requires (RFC 7518 §3.4), converted from OpenSSL's DER.
  static func sign(_ input: [UInt8], pem: Data, algorithm: JWTSigningAlgorithm, keyFile: String) throws -> [UInt8] {
    func failure(_ what: String) -> ProviderFetchError {
      ERR_clear_error()
      return ProviderFetchError(description: "private_key_file \(keyFile): \(what)")
    }
    let key: OpaquePointer? = pem.withUnsafeBytes { bytes in
      guard let bio = BIO_new_mem_buf(bytes.baseAddress, Int32(bytes.count)) else { return nil }
      defer { BIO_free(bio) }
      return PEM_read_bio_PrivateKey(bio, nil, nil, nil)
    }
    guard let key else { throw failure("not a PEM private key") }
    defer { EVP_PKEY_free(key) }
    switch algorithm {
    case .rs256:
      guard EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA else { throw failure("RS256 needs an RSA key") }
      guard EVP_PKEY_get_bits(key) >= 2048 else { throw failure("RS256 needs an RSA key of 2048 bits or more") }
    case .es256:
      guard EVP_PKEY_get_base_id(key) == EVP_PKEY_EC, EVP_PKEY_get_bits(key) == 256 else {
        throw failure("ES256 needs an EC key on P-256")
      }
    }
    guard let context = EVP_MD_CTX_new() else { throw failure("signing context not created") }
    defer { EVP_MD_CTX_free(context) }
    guard EVP_DigestSignInit(context, nil, EVP_sha256(), nil, key) == 1 else { throw failure("signing not initialised") }
    var length = 0
    guard EVP_DigestSign(context, nil, &length, input, input.count) == 1 else { throw failure("signing failed") }
    var signature = [UInt8](repeating: 0, count: length)
    guard EVP_DigestSign(context, &signature, &length, input, input.count) == 1 else { throw failure("signing failed") }
    signature.removeSubrange(length...)
    guard algorithm == .es256 else { return signature }
    guard let raw = rawECDSASignature(fromDER: signature, size: 32) else { throw failure("unexpected ECDSA signature") }
    return raw
  }

  /// `r || s`, each left-padded to `size` bytes, from DER `SEQUENCE { INTEGER r, INTEGER s }`.
  static func rawECDSASignature(fromDER der: [UInt8], size: Int) -> [UInt8]? {
    var index = 0
    func readLength() -> Int? {
      guard index < der.count else { return nil }
      let first = Int(der[index])
      index += 1
      if first < 0x80 { return first }
      guard first == 0x81, index < der.count else { return nil }  // at most 255 bytes here
      defer { index += 1 }
      return Int(der[index])
    }
    func readInteger() -> [UInt8]? {
      guard index < der.count, der[index] == 0x02 else { return nil }
      index += 1
      guard let length = readLength(), length > 0, index + length <= der.count else { return nil }
      var value = Array(der[index..<index + length])
      index += length
      while value.count > 1 && value[0] == 0 { value.removeFirst() }
      guard value.count <= size else { return nil }
      return [UInt8](repeating: 0, count: size - value.count) + value
    }
    guard der.first == 0x30 else { return nil }
    index = 1
    guard let total = readLength(), index + total == der.count, let r = readInteger(), let s = readInteger(),
      index == der.count
    else { return nil }
    return r + s
  }
}
