//===----------------------------------------------------------------------===//
// Augmenter — PEM parsing and certificate inspection (X509, EVP_PKEY) over OpenSSL 3.0.
//===----------------------------------------------------------------------===//

internal import COpenSSL

/// Parses PEM from memory. Callers own (and must free) what is returned.
enum PEMReader {
  /// Every certificate in `bytes`, in file order (`X509_free` each). Empty when there is none.
  static func certificates(_ bytes: [UInt8], path: String) throws(TLSError) -> [OpaquePointer] {
    try Self.withMemoryBIO(bytes, path: path) { bio throws(TLSError) in
      var certificates: [OpaquePointer] = []
      while true {
        // The _AUX variant accepts "TRUSTED CERTIFICATE" blocks too, like
        // SSL_CTX_use_certificate_chain_file does for the leaf.
        if let certificate = PEM_read_bio_X509_AUX(bio, nil, nil, nil) {
          certificates.append(certificate)
          continue
        }
        let error = ERR_peek_last_error()
        if augmenter_ERR_is_pem_no_start_line(error) != 0 && !certificates.isEmpty {
          // The normal end of the stream after at least one certificate.
          OpenSSLErrorQueue.clear()
          return certificates
        }
        certificates.forEach { X509_free($0) }
        throw TLSError.openSSL("PEM_read_bio_X509", detail: path, fallback: "no certificate in file")
      }
    }
  }

  /// The first private key in `bytes` (`EVP_PKEY_free` it).
  static func privateKey(_ bytes: [UInt8], path: String) throws(TLSError) -> OpaquePointer {
    try Self.withMemoryBIO(bytes, path: path) { bio throws(TLSError) in
      // No password callback: an encrypted key fails instead of prompting on a terminal.
      guard let key = PEM_read_bio_PrivateKey(bio, nil, noPassword, nil) else {
        throw TLSError.openSSL("PEM_read_bio_PrivateKey", detail: path, fallback: "no private key in file")
      }
      return key
    }
  }

  private static func withMemoryBIO<Value>(
    _ bytes: [UInt8],
    path: String,
    _ body: (OpaquePointer) throws(TLSError) -> Value
  ) throws(TLSError) -> Value {
    // BIO_new_mem_buf references the bytes: the BIO must not outlive this closure. An empty file
    // still gets a valid (zero-length) buffer, so it fails as "no start line", not as a NULL.
    let storage = bytes.isEmpty ? [0] : bytes
    let outcome = storage.withUnsafeBytes { raw -> Result<Value, TLSError> in
      guard let bio = BIO_new_mem_buf(raw.baseAddress, Int32(bytes.count)) else {
        return .failure(TLSError.openSSL("BIO_new_mem_buf", detail: path))
      }
      defer { BIO_free(bio) }
      do throws(TLSError) {
        return .success(try body(bio))
      } catch {
        return .failure(error)
      }
    }
    return try outcome.get()
  }
}

/// A PEM password callback that refuses: keys must be stored unencrypted (mounted secrets).
private let noPassword: @convention(c) (UnsafeMutablePointer<CChar>?, Int32, Int32, UnsafeMutableRawPointer?) -> Int32 = {
  _, _, _, _ in 0
}

/// Reads facts out of an `X509` without taking ownership.
enum X509Inspector {
  /// `subject CN=augmenter, serial 1A2B…, expires 2027-11-21T10:00:00Z`.
  static func describe(_ certificate: OpaquePointer) -> String {
    let subject = Self.subject(certificate) ?? "?"
    let serial = Self.serialHex(certificate) ?? "?"
    let expiry = Self.notAfter(certificate) ?? "?"
    return "subject \(subject), serial \(serial), expires \(expiry)"
  }

  /// The subject in RFC 2253 one-line form (`CN=client,O=Example`).
  static func subject(_ certificate: OpaquePointer) -> String? {
    guard let name = X509_get_subject_name(certificate) else { return nil }
    return Self.withMemoryOutput { bio in augmenter_X509_NAME_print_rfc2253(bio, name) >= 0 }
  }

  /// The serial number in upper-case hex.
  static func serialHex(_ certificate: OpaquePointer) -> String? {
    guard let serial = X509_get0_serialNumber(certificate),
      let number = ASN1_INTEGER_to_BN(serial, nil)
    else {
      OpenSSLErrorQueue.clear()
      return nil
    }
    defer { BN_free(number) }
    guard let hex = BN_bn2hex(number) else {
      OpenSSLErrorQueue.clear()
      return nil
    }
    defer { augmenter_OPENSSL_free(hex) }
    return String(cString: hex)
  }

  /// notAfter as RFC 3339 UTC.
  static func notAfter(_ certificate: OpaquePointer) -> String? {
    guard let time = X509_get0_notAfter(certificate) else { return nil }
    return withUnsafeTemporaryAllocation(of: CChar.self, capacity: 32) { buffer in
      guard augmenter_ASN1_TIME_format_rfc3339(time, buffer.baseAddress, buffer.count) == 1 else {
        OpenSSLErrorQueue.clear()
        return nil
      }
      return String(cString: buffer.baseAddress!)
    }
  }

  /// The identity of a verified client: the first URI SAN, else the first DNS SAN, else the
  /// subject (RFC 2253).
  static func identity(_ certificate: OpaquePointer) -> String? {
    if let names = augmenter_X509_get_subject_alt_names(certificate) {
      defer { GENERAL_NAMES_free(names) }
      var firstDNS: String?
      for index in 0..<augmenter_sk_GENERAL_NAME_num(names) {
        guard let name = augmenter_sk_GENERAL_NAME_value(names, index) else { continue }
        var type: Int32 = 0
        guard let value = GENERAL_NAME_get0_value(name, &type) else { continue }
        if type == GEN_URI {
          if let uri = Self.ia5String(value) { return uri }
        } else if type == GEN_DNS && firstDNS == nil {
          firstDNS = Self.ia5String(value)
        }
      }
      if let firstDNS { return firstDNS }
    } else {
      // X509_get_ext_d2i leaves an error only when the extension exists but doesn't parse.
      OpenSSLErrorQueue.clear()
    }
    return Self.subject(certificate)
  }

  /// The bytes of an IA5String SAN entry as text.
  private static func ia5String(_ value: UnsafeMutableRawPointer) -> String? {
    let string = value.assumingMemoryBound(to: ASN1_STRING.self)
    let length = Int(ASN1_STRING_length(string))
    guard length > 0, let data = ASN1_STRING_get0_data(string) else { return nil }
    return String(decoding: UnsafeBufferPointer(start: data, count: length), as: UTF8.self)
  }

  /// Runs `write` against a memory BIO and returns what it wrote.
  private static func withMemoryOutput(_ write: (OpaquePointer) -> Bool) -> String? {
    guard let bio = BIO_new(BIO_s_mem()) else {
      OpenSSLErrorQueue.clear()
      return nil
    }
    defer { BIO_free(bio) }
    guard write(bio) else {
      OpenSSLErrorQueue.clear()
      return nil
    }
    let length = Int(BIO_ctrl_pending(bio))
    var bytes = [UInt8](repeating: 0, count: length)
    let read = bytes.withUnsafeMutableBytes { BIO_read(bio, $0.baseAddress, Int32(length)) }
    guard read >= 0 else {
      OpenSSLErrorQueue.clear()
      return length == 0 ? "" : nil
    }
    return String(decoding: bytes[0..<Int(read)], as: UTF8.self)
  }
}
