//===----------------------------------------------------------------------===//
// Augmenter — a fully configured, immutable server SSL_CTX.
//
// The files are read into memory once (`TLSServerFiles`) and parsed from there, so the context is
// built from exactly the bytes the reload logic compared: a file swapped mid-build cannot give a
// context that mixes two versions without the store noticing.
//===----------------------------------------------------------------------===//

internal import COpenSSL

/// A server TLS context: certificate, key, client verification, versions, ciphers and ALPN,
/// validated when built. Immutable afterwards and shared by every connection that uses it.
public final class TLSServerContext: Sendable {
  /// The configuration this context was built from.
  public let configuration: TLSServerConfiguration
  /// The served leaf certificate, for logs: `subject CN=augmenter, serial 1A2B…, expires 2027-11-21T10:00:00Z`.
  /// Never contains key material.
  public let certificateDescription: String
  /// The SSL_CTX itself.
  let native: OpenSSLServerContext

  /// Reads the configured files and builds the context.
  ///
  /// Fails with a `TLSError` naming the failing step when a file is missing or unreadable, a PEM
  /// block doesn't parse, the key doesn't match the certificate, a cipher string selects nothing,
  /// the client CA bundle has no certificate, or `requireClientCertificate` is set without
  /// `clientCAPath`.
  public convenience init(configuration: TLSServerConfiguration) throws(TLSError) {
    let files = try TLSServerFiles(reading: configuration)
    try self.init(configuration: configuration, files: files)
  }

  /// Builds the context from file contents already read (by the reload logic).
  init(configuration: TLSServerConfiguration, files: TLSServerFiles) throws(TLSError) {
    let native = try OpenSSLServerContext(configuration: configuration, files: files)
    self.configuration = configuration
    self.native = native
    self.certificateDescription = native.certificateDescription
  }
}

/// The bytes of a configuration's certificate, key and client CA files.
struct TLSServerFiles: Sendable {
  var certificate: [UInt8]
  var privateKey: [UInt8]
  var clientCA: [UInt8]?

  init(reading configuration: TLSServerConfiguration) throws(TLSError) {
    self.certificate = try Self.read(configuration.certificatePath)
    self.privateKey = try Self.read(configuration.privateKeyPath)
    self.clientCA = try configuration.clientCAPath.map { path throws(TLSError) in try Self.read(path) }
  }

  /// SHA-256 over the three files (each length-prefixed), so the store can remember what it saw
  /// without keeping a second copy of the private key.
  var fingerprint: [UInt8] {
    var digest = OpenSSLDigest()
    digest.update(self.certificate)
    digest.update(self.privateKey)
    if let clientCA = self.clientCA {
      digest.update(clientCA)
    } else {
      digest.update([])
    }
    return digest.finish()
  }

  /// Overwrites the private key bytes (best effort: Swift may have copied them elsewhere).
  mutating func wipePrivateKey() {
    self.privateKey.withUnsafeMutableBytes { bytes in
      if let base = bytes.baseAddress {
        OPENSSL_cleanse(base, bytes.count)
      }
    }
  }

  /// The whole file, through a file BIO so failures carry OpenSSL's (errno) reason.
  static func read(_ path: String) throws(TLSError) -> [UInt8] {
    guard let bio = BIO_new_file(path, "rb") else {
      throw TLSError.openSSL("BIO_new_file", detail: path)
    }
    defer { BIO_free(bio) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 16 * 1024)
    while true {
      let count = chunk.withUnsafeMutableBytes { BIO_read(bio, $0.baseAddress, Int32($0.count)) }
      if count > 0 {
        bytes.append(contentsOf: chunk[0..<Int(count)])
        // 1 MiB is far beyond any certificate bundle; refuse rather than read a wrong file whole.
        if bytes.count > 1 << 20 {
          throw TLSError(operation: "BIO_read", detail: path, reasons: ["file larger than 1 MiB"])
        }
      } else if count == 0 {
        // A file BIO returns 0 at end of file and -1 on a read error (e.g. EISDIR).
        return bytes
      } else {
        throw TLSError.openSSL("BIO_read", detail: path, fallback: "read failed")
      }
    }
  }
}

/// An incremental SHA-256 (EVP).
struct OpenSSLDigest {
  private var parts: [[UInt8]] = []

  mutating func update(_ bytes: [UInt8]) {
    self.parts.append(bytes)
  }

  func finish() -> [UInt8] {
    guard let context = EVP_MD_CTX_new() else {
      OpenSSLErrorQueue.clear()
      return []
    }
    defer { EVP_MD_CTX_free(context) }
    guard EVP_DigestInit_ex(context, EVP_sha256(), nil) == 1 else {
      OpenSSLErrorQueue.clear()
      return []
    }
    for part in self.parts {
      var length = UInt64(part.count).bigEndian
      _ = withUnsafeBytes(of: &length) { EVP_DigestUpdate(context, $0.baseAddress, $0.count) }
      _ = part.withUnsafeBytes { EVP_DigestUpdate(context, $0.baseAddress, $0.count) }
    }
    var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
    var length: UInt32 = 0
    guard EVP_DigestFinal_ex(context, &digest, &length) == 1 else {
      OpenSSLErrorQueue.clear()
      return []
    }
    return Array(digest[0..<Int(length)])
  }
}

/// Owns one server `SSL_CTX` (freed in deinit) and the ALPN list its select callback reads.
///
/// `@unchecked Sendable`: the SSL_CTX is fully configured in `init` and never mutated afterwards;
/// OpenSSL documents a configured SSL_CTX as safe to share between threads for `SSL_new`, and
/// its session cache has its own lock.
final class OpenSSLServerContext: @unchecked Sendable {
  let pointer: OpaquePointer
  /// Read by the ALPN select callback through the callback's `arg` pointer (unretained: the
  /// SSL_CTX cannot outlive `self` in a way that matters, since every `OpenSSLConnection` holds
  /// its `TLSServerContext`, and the callback only runs during handshakes).
  private let alpn: ApplicationProtocolList
  let certificateDescription: String

  init(configuration: TLSServerConfiguration, files: TLSServerFiles) throws(TLSError) {
    if configuration.requireClientCertificate && configuration.clientCAPath == nil {
      throw TLSError(
        operation: "requireClientCertificate",
        reasons: ["requiring a client certificate needs a client CA bundle (clientCAPath)"]
      )
    }
    self.alpn = try ApplicationProtocolList(configuration.applicationProtocols)

    guard let pointer = SSL_CTX_new(TLS_server_method()) else {
      throw TLSError.openSSL("SSL_CTX_new")
    }
    // From here on `pointer` is freed by deinit only once `self` is complete; until then every
    // failure frees it explicitly.
    do throws(TLSError) {
      try Self.configureProtocol(pointer, configuration)
      let description = try Self.configureCertificate(pointer, configuration, files)
      try Self.configureClientVerification(pointer, configuration, files)
      self.certificateDescription = description
    } catch {
      SSL_CTX_free(pointer)
      throw error
    }
    self.pointer = pointer
    if !self.alpn.isEmpty {
      SSL_CTX_set_alpn_select_cb(pointer, selectApplicationProtocol, Unmanaged.passUnretained(self.alpn).toOpaque())
    }
  }

  deinit {
    SSL_CTX_free(self.pointer)
  }

  /// SSL_OP_NO_TICKET is clear: TLS 1.3 (and 1.2) session tickets are issued.
  var hasTicketsEnabled: Bool {
    augmenter_options_have_no_ticket(SSL_CTX_get_options(self.pointer)) == 0
  }

  /// SSL_OP_NO_COMPRESSION and SSL_OP_NO_RENEGOTIATION are set.
  var hasCompressionAndRenegotiationDisabled: Bool {
    augmenter_options_have_no_compression_no_renegotiation(SSL_CTX_get_options(self.pointer)) == 1
  }

  /// Versions, options, session cache, ciphers.
  private static func configureProtocol(_ context: OpaquePointer, _ configuration: TLSServerConfiguration) throws(TLSError) {
    let minimum = configuration.minimumVersion == .tls1_3 ? TLS1_3_VERSION : TLS1_2_VERSION
    guard augmenter_SSL_CTX_set_min_proto_version(context, minimum) == 1 else {
      throw TLSError.openSSL("SSL_CTX_set_min_proto_version", detail: configuration.minimumVersion.rawValue)
    }
    guard augmenter_SSL_CTX_set_max_proto_version(context, TLS1_3_VERSION) == 1 else {
      throw TLSError.openSSL("SSL_CTX_set_max_proto_version", detail: "1.3")
    }
    _ = augmenter_SSL_CTX_set_server_options(context)

    // Server-side session cache (TLS 1.2 session ids) plus tickets (TLS 1.2 and 1.3). The session
    // id context is mandatory for resumption once client certificates are verified.
    augmenter_SSL_CTX_enable_server_session_cache(context, 20_000)
    let sessionContext: [UInt8] = Array("augmenter".utf8)
    guard SSL_CTX_set_session_id_context(context, sessionContext, UInt32(sessionContext.count)) == 1 else {
      throw TLSError.openSSL("SSL_CTX_set_session_id_context")
    }

    guard SSL_CTX_set_cipher_list(context, configuration.ciphers) == 1 else {
      throw TLSError.openSSL("SSL_CTX_set_cipher_list", detail: configuration.ciphers)
    }
    guard SSL_CTX_set_ciphersuites(context, configuration.cipherSuites) == 1 else {
      throw TLSError.openSSL("SSL_CTX_set_ciphersuites", detail: configuration.cipherSuites)
    }
  }

  /// Leaf, chain and private key; returns the leaf's description.
  private static func configureCertificate(
    _ context: OpaquePointer,
    _ configuration: TLSServerConfiguration,
    _ files: TLSServerFiles
  ) throws(TLSError) -> String {
    let certificatePath = configuration.certificatePath
    let certificates = try PEMReader.certificates(files.certificate, path: certificatePath)
    defer { certificates.forEach { X509_free($0) } }
    guard let leaf = certificates.first else {
      throw TLSError(operation: "PEM_read_bio_X509", detail: certificatePath, reasons: ["no certificate in file"])
    }
    guard SSL_CTX_use_certificate(context, leaf) == 1 else {
      throw TLSError.openSSL("SSL_CTX_use_certificate", detail: certificatePath)
    }
    for intermediate in certificates.dropFirst() {
      // add0 takes ownership on success: give it its own reference.
      X509_up_ref(intermediate)
      guard augmenter_SSL_CTX_add0_chain_cert(context, intermediate) == 1 else {
        X509_free(intermediate)
        throw TLSError.openSSL("SSL_CTX_add0_chain_cert", detail: certificatePath)
      }
    }

    let keyPath = configuration.privateKeyPath
    let key = try PEMReader.privateKey(files.privateKey, path: keyPath)
    defer { EVP_PKEY_free(key) }
    // OpenSSL 3.0 compares the key with the certificate already in place here and fails with
    // "key values mismatch"; the explicit check below also covers a missing key.
    guard SSL_CTX_use_PrivateKey(context, key) == 1 else {
      throw TLSError.openSSL("SSL_CTX_use_PrivateKey", detail: keyPath)
    }
    guard SSL_CTX_check_private_key(context) == 1 else {
      throw TLSError.openSSL("SSL_CTX_check_private_key", detail: keyPath)
    }
    return X509Inspector.describe(leaf)
  }

  /// Client CA store, CA list sent to clients, verify mode.
  private static func configureClientVerification(
    _ context: OpaquePointer,
    _ configuration: TLSServerConfiguration,
    _ files: TLSServerFiles
  ) throws(TLSError) {
    guard let path = configuration.clientCAPath, let bundle = files.clientCA else {
      SSL_CTX_set_verify(context, SSL_VERIFY_NONE, nil)
      return
    }
    let authorities = try PEMReader.certificates(bundle, path: path)
    defer { authorities.forEach { X509_free($0) } }
    guard !authorities.isEmpty else {
      throw TLSError(operation: "PEM_read_bio_X509", detail: path, reasons: ["no certificate in file"])
    }
    guard let store = SSL_CTX_get_cert_store(context) else {
      throw TLSError.openSSL("SSL_CTX_get_cert_store", detail: path)
    }
    for authority in authorities {
      guard X509_STORE_add_cert(store, authority) == 1 else {
        throw TLSError.openSSL("X509_STORE_add_cert", detail: path)
      }
      guard SSL_CTX_add_client_CA(context, authority) == 1 else {
        throw TLSError.openSSL("SSL_CTX_add_client_CA", detail: path)
      }
    }
    var mode = SSL_VERIFY_PEER
    if configuration.requireClientCertificate {
      mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT
    }
    SSL_CTX_set_verify(context, mode, nil)
  }
}

/// ALPN protocols in wire format (length-prefixed), server preference order.
final class ApplicationProtocolList: Sendable {
  let wire: [UInt8]

  init(_ protocols: [String]) throws(TLSError) {
    var wire: [UInt8] = []
    for name in protocols {
      let bytes = Array(name.utf8)
      guard (1...255).contains(bytes.count) else {
        throw TLSError(
          operation: "applicationProtocols",
          detail: name,
          reasons: ["an ALPN protocol name must be 1 to 255 bytes"]
        )
      }
      wire.append(UInt8(bytes.count))
      wire.append(contentsOf: bytes)
    }
    self.wire = wire
  }

  var isEmpty: Bool { self.wire.isEmpty }

  /// Our first protocol that the client also offered, as (offset, length) into `offered`.
  func select(offered: UnsafeRawBufferPointer) -> Range<Int>? {
    var ours = 0
    while ours < self.wire.count {
      let ourLength = Int(self.wire[ours])
      let ourName = self.wire[(ours + 1)..<(ours + 1 + ourLength)]
      var theirs = 0
      while theirs < offered.count {
        let theirLength = Int(offered[theirs])
        let start = theirs + 1
        let end = start + theirLength
        guard end <= offered.count else { break }  // malformed list: OpenSSL validates, be safe
        if theirLength == ourLength && offered[start..<end].elementsEqual(ourName) {
          return start..<end
        }
        theirs = end
      }
      ours += 1 + ourLength
    }
    return nil
  }
}

/// The ALPN select callback: server preference, fatal `no_application_protocol` without overlap.
/// Non-capturing: it finds the protocol list through `arg`, owned by `OpenSSLServerContext`.
private let selectApplicationProtocol:
  @convention(c) (
    OpaquePointer?,
    UnsafeMutablePointer<UnsafePointer<UInt8>?>?,
    UnsafeMutablePointer<UInt8>?,
    UnsafePointer<UInt8>?,
    UInt32,
    UnsafeMutableRawPointer?
  ) -> Int32 = { _, selected, selectedLength, offered, offeredLength, arg in
    guard let arg, let selected, let selectedLength, let offered else {
      return SSL_TLSEXT_ERR_ALERT_FATAL
    }
    let list = Unmanaged<ApplicationProtocolList>.fromOpaque(arg).takeUnretainedValue()
    let offeredBytes = UnsafeRawBufferPointer(start: offered, count: Int(offeredLength))
    guard let range = list.select(offered: offeredBytes) else {
      return SSL_TLSEXT_ERR_ALERT_FATAL
    }
    // Points into the client's list, which OpenSSL keeps alive while it copies the selection.
    selected.pointee = offered + range.lowerBound
    selectedLength.pointee = UInt8(range.count)
    return SSL_TLSEXT_ERR_OK
  }
