//===----------------------------------------------------------------------===//
// Augmenter — OpenSSL failures as Swift values.
//
// Every failing OpenSSL call is followed, before anything else touches OpenSSL on that thread, by
// `OpenSSLErrorQueue.drain()`, which empties the thread's error queue into the error's `reasons`.
// A stale entry can therefore never be blamed on a later, unrelated call.
//===----------------------------------------------------------------------===//

internal import COpenSSL

/// A failed OpenSSL call or TLS setup step, with OpenSSL's own explanation.
public struct TLSError: Error, Sendable, Hashable, CustomStringConvertible {
  /// The failing OpenSSL call or step, e.g. `SSL_CTX_use_PrivateKey`.
  public var operation: String
  /// What the step worked on, e.g. the file path involved.
  public var detail: String?
  /// OpenSSL's error queue at the time of the failure, oldest first (`ERR_error_string_n` text).
  public var reasons: [String]

  public init(operation: String, detail: String? = nil, reasons: [String] = []) {
    self.operation = operation
    self.detail = detail
    self.reasons = reasons
  }

  /// One line: `SSL_CTX_use_PrivateKey failed (/etc/tls/key.pem): error:05800074:x509 certificate routines::key values mismatch`.
  public var description: String {
    var line = "\(self.operation) failed"
    if let detail = self.detail {
      line += " (\(detail))"
    }
    if !self.reasons.isEmpty {
      line += ": " + self.reasons.joined(separator: "; ")
    }
    return line
  }

  /// The error for a failed OpenSSL call: drains the calling thread's error queue into `reasons`.
  /// `fallback` is used as the only reason when the queue was empty (some calls fail silently).
  static func openSSL(_ operation: String, detail: String? = nil, fallback: String? = nil) -> TLSError {
    var reasons = OpenSSLErrorQueue.drain()
    if reasons.isEmpty, let fallback {
      reasons = [fallback]
    }
    return TLSError(operation: operation, detail: detail, reasons: reasons)
  }
}

/// The calling thread's OpenSSL error queue.
enum OpenSSLErrorQueue {
  /// Removes every queued error and returns their texts, oldest first.
  static func drain() -> [String] {
    var reasons: [String] = []
    while true {
      let code = ERR_get_error()
      if code == 0 {
        return reasons
      }
      reasons.append(Self.text(code))
    }
  }

  /// Discards queued errors (after a call whose failure is expected and handled, e.g. the end of a
  /// PEM stream).
  static func clear() {
    ERR_clear_error()
  }

  /// True when nothing is queued. Tests use it to prove that every failure path drained the queue.
  static var isEmpty: Bool {
    ERR_peek_error() == 0
  }

  /// `ERR_error_string_n` text of one error code.
  static func text(_ code: UInt) -> String {
    withUnsafeTemporaryAllocation(of: CChar.self, capacity: 256) { buffer in
      ERR_error_string_n(code, buffer.baseAddress, buffer.count)
      return String(cString: buffer.baseAddress!)
    }
  }
}
