//===----------------------------------------------------------------------===//
// Augmenter — one server-side `SSL` over two memory BIOs, driven sans-I/O.
//
// Ciphertext from the network goes in with `receive` (into the read BIO); ciphertext for the
// network comes out with `takeOutput` (from the write BIO). OpenSSL never sees a socket: the
// NIO handler owns all I/O. Every SSL_* call of a connection lives in this file.
//===----------------------------------------------------------------------===//

internal import COpenSSL
import NIOCore

/// The outcome of a non-blocking OpenSSL step. "Needs more input" is never an error.
enum OpenSSLStepResult {
  /// The step finished.
  case complete
  /// OpenSSL needs more bytes from the peer to go on.
  case wantRead
  /// The peer sent close_notify.
  case closed
  /// A fatal error: the connection is unusable. Any alert is already in the output.
  case failed(TLSError)
}

/// Owns one `SSL` (freed in deinit, which frees both BIOs).
final class OpenSSLConnection {
  /// Keeps the SSL_CTX and its ALPN list alive for as long as this SSL may call back into them.
  let context: TLSServerContext
  private let ssl: OpaquePointer
  /// Network → OpenSSL (owned by `ssl`).
  private let networkInput: OpaquePointer
  /// OpenSSL → network (owned by `ssl`).
  private let networkOutput: OpaquePointer

  init(context: TLSServerContext) throws(TLSError) {
    guard let ssl = SSL_new(context.native.pointer) else {
      throw TLSError.openSSL("SSL_new")
    }
    guard let input = BIO_new(BIO_s_mem()) else {
      SSL_free(ssl)
      throw TLSError.openSSL("BIO_new")
    }
    guard let output = BIO_new(BIO_s_mem()) else {
      BIO_free(input)
      SSL_free(ssl)
      throw TLSError.openSSL("BIO_new")
    }
    // An empty read BIO means "no bytes yet" (retry → SSL_ERROR_WANT_READ), never EOF: the
    // handler learns about EOF from the channel and decides itself.
    augmenter_BIO_set_mem_eof_return(input, -1)
    augmenter_BIO_set_mem_eof_return(output, -1)
    SSL_set_bio(ssl, input, output)
    SSL_set_accept_state(ssl)
    self.context = context
    self.ssl = ssl
    self.networkInput = input
    self.networkOutput = output
  }

  deinit {
    SSL_free(self.ssl)
  }

  // MARK: network side

  /// Queues ciphertext from the peer. Memory BIOs grow, so everything is taken.
  func receive(_ buffer: ByteBuffer) {
    buffer.withUnsafeReadableBytes { bytes in
      guard let base = bytes.baseAddress, bytes.count > 0 else { return }
      var offset = 0
      while offset < bytes.count {
        let chunk = min(bytes.count - offset, Int(Int32.max))
        let written = BIO_write(self.networkInput, base + offset, Int32(chunk))
        // A memory BIO write fails only when allocation fails; nothing sensible is left to do.
        precondition(written > 0, "BIO_write to a memory BIO failed")
        offset += Int(written)
      }
    }
  }

  /// Bytes OpenSSL wrote for the peer and nobody took yet.
  var pendingOutputBytes: Int {
    Int(BIO_ctrl_pending(self.networkOutput))
  }

  /// Ciphertext received but not yet consumed by OpenSSL.
  var pendingInputBytes: Int {
    Int(BIO_ctrl_pending(self.networkInput))
  }

  /// Moves everything OpenSSL wrote for the peer into a new buffer, or nil when there is nothing.
  func takeOutput(allocator: ByteBufferAllocator) -> ByteBuffer? {
    let pending = self.pendingOutputBytes
    guard pending > 0 else { return nil }
    var buffer = allocator.buffer(capacity: pending)
    buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: pending) { space in
      let read = BIO_read(self.networkOutput, space.baseAddress, Int32(pending))
      return max(Int(read), 0)
    }
    return buffer
  }

  // MARK: TLS side

  /// One handshake step.
  func handshake() -> OpenSSLStepResult {
    // SSL_get_error reads the thread's error queue: it must start empty (OpenSSL's rule).
    ERR_clear_error()
    let result = SSL_do_handshake(self.ssl)
    if result == 1 {
      return .complete
    }
    return self.classify(result, operation: "SSL_do_handshake")
  }

  /// Decrypts as much application data as fits into `buffer`'s writable space (growing it to at
  /// least `minimumCapacity`), record after record, until OpenSSL needs more input.
  /// `.complete` means the buffer is full and more may be readable.
  func read(into buffer: inout ByteBuffer, minimumWritable: Int) -> OpenSSLStepResult {
    var outcome = OpenSSLStepResult.complete
    ERR_clear_error()
    buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: minimumWritable) { space in
      guard let base = space.baseAddress else { return 0 }
      var total = 0
      while total < space.count {
        var count = 0
        let result = SSL_read_ex(self.ssl, base + total, space.count - total, &count)
        if result == 1 {
          total += count
          continue
        }
        outcome = self.classify(result, operation: "SSL_read_ex")
        return total
      }
      outcome = .complete
      return total
    }
    return outcome
  }

  /// Encrypts all of `buffer` (a memory BIO never pushes back, so there is no partial write).
  func write(_ buffer: ByteBuffer) -> OpenSSLStepResult {
    buffer.withUnsafeReadableBytes { bytes in
      guard let base = bytes.baseAddress, bytes.count > 0 else { return .complete }
      var written = 0
      ERR_clear_error()
      let result = SSL_write_ex(self.ssl, base, bytes.count, &written)
      if result == 1 {
        return .complete
      }
      return self.classify(result, operation: "SSL_write_ex")
    }
  }

  /// Queues our close_notify. Best effort: we don't wait for the peer's.
  func shutdown() {
    if SSL_shutdown(self.ssl) < 0 {
      OpenSSLErrorQueue.clear()
    }
  }

  /// Maps a failed call's result through `SSL_get_error` and drains the error queue.
  private func classify(_ result: Int32, operation: String) -> OpenSSLStepResult {
    let code = SSL_get_error(self.ssl, result)
    switch code {
    case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
      return .wantRead
    case SSL_ERROR_ZERO_RETURN:
      OpenSSLErrorQueue.clear()
      return .closed
    default:
      return .failed(TLSError.openSSL(operation, fallback: Self.describe(errorCode: code)))
    }
  }

  private static func describe(errorCode: Int32) -> String {
    switch errorCode {
    case SSL_ERROR_SYSCALL: "SSL_ERROR_SYSCALL"
    case SSL_ERROR_SSL: "SSL_ERROR_SSL"
    case SSL_ERROR_WANT_X509_LOOKUP: "SSL_ERROR_WANT_X509_LOOKUP"
    default: "SSL_get_error \(errorCode)"
    }
  }

  // MARK: results of the handshake

  /// The negotiated parameters; call once the handshake completed.
  func handshakeCompleted() -> TLSHandshakeCompleted {
    var alpnData: UnsafePointer<UInt8>?
    var alpnLength: UInt32 = 0
    SSL_get0_alpn_selected(self.ssl, &alpnData, &alpnLength)
    var applicationProtocol: String?
    if let alpnData, alpnLength > 0 {
      applicationProtocol = String(decoding: UnsafeBufferPointer(start: alpnData, count: Int(alpnLength)), as: UTF8.self)
    }
    let version = SSL_get_version(self.ssl).map { String(cString: $0) } ?? "unknown"
    let cipher = SSL_get_current_cipher(self.ssl).flatMap { SSL_CIPHER_get_name($0) }.map { String(cString: $0) } ?? "unknown"
    return TLSHandshakeCompleted(
      applicationProtocol: applicationProtocol,
      protocolVersion: version,
      cipher: cipher,
      peerIdentity: self.verifiedPeerIdentity(),
      sessionReused: SSL_session_reused(self.ssl) == 1
    )
  }

  /// The client certificate's identity, only when the certificate was verified against the
  /// configured client CAs (on a resumed session: verified when the session was made).
  private func verifiedPeerIdentity() -> String? {
    guard let certificate = SSL_get0_peer_certificate(self.ssl) else { return nil }
    guard SSL_get_verify_result(self.ssl) == X509_V_OK else { return nil }
    // Without client CAs we never ask (SSL_VERIFY_NONE), so an unverified certificate can't get
    // here; checked anyway so identity never comes from an unverified certificate.
    guard self.context.configuration.clientCAPath != nil else { return nil }
    return X509Inspector.identity(certificate)
  }
}
