//===----------------------------------------------------------------------===//
// Augmenter — what a TLS listener is configured with.
//===----------------------------------------------------------------------===//

/// A TLS protocol version a server accepts at minimum. The maximum is always TLS 1.3.
public enum TLSProtocolVersion: String, Sendable, Hashable, CaseIterable {
  case tls1_2 = "1.2"
  case tls1_3 = "1.3"
}

/// Certificate, key, client verification and protocol policy of a TLS server.
///
/// Only file paths are held: the files are read when a `TLSServerContext` is built (and re-read
/// by `TLSServerContextStore`), so rotating the files on disk rotates the served certificate.
public struct TLSServerConfiguration: Sendable, Hashable {
  /// PEM certificate chain, leaf first.
  public var certificatePath: String
  /// PEM private key of the leaf certificate.
  public var privateKeyPath: String
  /// PEM bundle of CA certificates: when set, client certificates are requested and verified
  /// against it, and its subjects are sent as the acceptable CA list.
  public var clientCAPath: String?
  /// A handshake without a verified client certificate fails. Requires `clientCAPath`.
  public var requireClientCertificate: Bool
  /// The oldest protocol version accepted; the newest is TLS 1.3, which is preferred.
  public var minimumVersion: TLSProtocolVersion
  /// TLS 1.2 cipher list in OpenSSL syntax.
  public var ciphers: String
  /// TLS 1.3 cipher suites in OpenSSL syntax.
  public var cipherSuites: String
  /// ALPN protocols in server preference order. A client offering none of them is refused with
  /// the `no_application_protocol` alert; a client offering no ALPN at all gets none.
  public var applicationProtocols: [String]

  public init(
    certificatePath: String,
    privateKeyPath: String,
    clientCAPath: String? = nil,
    requireClientCertificate: Bool = false,
    minimumVersion: TLSProtocolVersion = .tls1_2,
    ciphers: String = Self.defaultCiphers,
    cipherSuites: String = Self.defaultCipherSuites,
    applicationProtocols: [String] = ["h2", "http/1.1"]
  ) {
    self.certificatePath = certificatePath
    self.privateKeyPath = privateKeyPath
    self.clientCAPath = clientCAPath
    self.requireClientCertificate = requireClientCertificate
    self.minimumVersion = minimumVersion
    self.ciphers = ciphers
    self.cipherSuites = cipherSuites
    self.applicationProtocols = applicationProtocols
  }

  /// Mozilla "intermediate" TLS 1.2 ciphers without the DHE ones: ECDHE key exchange with
  /// AES-GCM or ChaCha20-Poly1305 only (forward secrecy, AEAD).
  public static let defaultCiphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    + "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    + "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

  /// Every TLS 1.3 AEAD suite OpenSSL enables by default (Mozilla "intermediate").
  public static let defaultCipherSuites =
    "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"
}
