//===----------------------------------------------------------------------===//
// Augmenter — what TLSServerHandler tells the rest of the pipeline.
//===----------------------------------------------------------------------===//

public import NIOCore

/// Fired inbound (`fireUserInboundEventTriggered`) once the handshake completes, before any
/// plaintext.
public struct TLSHandshakeCompleted: Sendable, Hashable {
  /// The ALPN result; nil when the client offered no ALPN.
  public var applicationProtocol: String?
  /// `TLSv1.2` or `TLSv1.3`.
  public var protocolVersion: String
  /// OpenSSL's cipher name, e.g. `TLS_AES_128_GCM_SHA256`.
  public var cipher: String
  /// The verified client certificate's first URI SAN, else first DNS SAN, else subject (RFC 2253);
  /// nil without a client certificate.
  public var peerIdentity: String?
  /// The session was resumed (ticket or session id), not fully negotiated.
  public var sessionReused: Bool

  public init(
    applicationProtocol: String?,
    protocolVersion: String,
    cipher: String,
    peerIdentity: String?,
    sessionReused: Bool
  ) {
    self.applicationProtocol = applicationProtocol
    self.protocolVersion = protocolVersion
    self.cipher = cipher
    self.peerIdentity = peerIdentity
    self.sessionReused = sessionReused
  }
}

/// Why TLSServerHandler closed a connection. Fired with `fireErrorCaught` right before the close;
/// `description` is a one-line log message.
public enum TLSConnectionError: Error, Sendable, CustomStringConvertible {
  /// The first bytes look like HTTP/1.x or the HTTP/2 preface, not a TLS record.
  case plaintextOnTLSPort
  /// The handshake failed (alert from the peer, no shared cipher, no client certificate,
  /// unsupported protocol version, no common application protocol, garbage, ...).
  case handshakeFailed(TLSError)
  /// The handshake did not complete in time.
  case handshakeTimeout(TimeAmount)
  /// The peer closed the connection in the middle of a record or of the handshake.
  case truncated
  /// A TLS error after the handshake (bad record MAC, unexpected message, ...).
  case protocolError(TLSError)

  public var description: String {
    switch self {
    case .plaintextOnTLSPort:
      "TLS: plaintext HTTP sent to a TLS port; connection closed"
    case .handshakeFailed(let error):
      "TLS handshake failed: \(error)"
    case .handshakeTimeout(let timeout):
      "TLS handshake did not complete within \(Self.format(timeout)); connection closed"
    case .truncated:
      "TLS: connection closed by the peer in the middle of a TLS record or handshake"
    case .protocolError(let error):
      "TLS protocol error: \(error)"
    }
  }

  private static func format(_ amount: TimeAmount) -> String {
    let milliseconds = amount.nanoseconds / 1_000_000
    if milliseconds % 1000 == 0 {
      return "\(milliseconds / 1000) s"
    }
    return "\(milliseconds) ms"
  }
}
