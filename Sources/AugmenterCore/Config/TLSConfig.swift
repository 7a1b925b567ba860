// TLS settings: on a listener (keys `tls`, `admin_tls`) and towards a provider (`providers[].tls`).
// Only paths and choices live here; the TLS module loads and checks the files themselves.

/// TLS on a listener (key `tls` for the check port, `admin_tls` for the admin port).
public struct ListenerTLSConfig: Sendable, Hashable {
  /// The certificate chain, PEM, leaf first (key `cert`). Re-read when it changes.
  public var cert: String
  /// The private key, PEM (key `key`). Re-read when it changes.
  public var key: String
  /// CA certificates, PEM, that client certificates are verified against (key `client_ca`).
  /// With it, clients are asked for a certificate; a presented one must verify.
  public var clientCA: String?
  /// Whether a handshake without a verified client certificate fails (key
  /// `require_client_cert`, default false; needs `client_ca`).
  public var requireClientCert: Bool
  /// The lowest TLS version accepted, `1.2` or `1.3` (key `min_version`, default 1.2).
  public var minVersion: String
  /// TLS 1.2 cipher list in OpenSSL syntax (key `ciphers`; default: ECDHE with AES-GCM or
  /// ChaCha20-Poly1305 only).
  public var ciphers: String?
  /// TLS 1.3 cipher suites in OpenSSL syntax (key `cipher_suites`; default OpenSSL's three).
  public var cipherSuites: String?
  /// How long a client may take to complete the handshake (key `handshake_timeout`, 10s).
  public var handshakeTimeout: Duration
  /// How often the certificate, key and client CA files are checked for changes (key
  /// `reload_interval`, 10s).
  public var reloadInterval: Duration

  /// The accepted `min_version` values.
  public static let versions = ["1.2", "1.3"]

  /// Creates listener TLS settings; optional settings have their documented defaults.
  public init(
    cert: String,
    key: String,
    clientCA: String? = nil,
    requireClientCert: Bool = false,
    minVersion: String = "1.2",
    ciphers: String? = nil,
    cipherSuites: String? = nil,
    handshakeTimeout: Duration = .seconds(10),
    reloadInterval: Duration = .seconds(10)
  ) {
    self.cert = cert
    self.key = key
    self.clientCA = clientCA
    self.requireClientCert = requireClientCert
    self.minVersion = minVersion
    self.ciphers = ciphers
    self.cipherSuites = cipherSuites
    self.handshakeTimeout = handshakeTimeout
    self.reloadInterval = reloadInterval
  }
}

/// TLS towards an `https://` provider (key `providers[].tls`).
public struct ProviderTLSConfig: Sendable, Hashable {
  /// CA certificates, PEM, trusted for the provider's certificate instead of the system's roots
  /// (key `ca`): a private CA.
  public var ca: String?
  /// A client certificate chain, PEM, presented to the provider (key `cert`, with `key`).
  public var cert: String?
  /// The client certificate's private key, PEM (key `key`, with `cert`).
  public var key: String?

  /// Creates provider TLS settings.
  public init(ca: String? = nil, cert: String? = nil, key: String? = nil) {
    self.ca = ca
    self.cert = cert
    self.key = key
  }
}
