//===----------------------------------------------------------------------===//
// Augmenter — why an HTTP/2 connection is being closed by us, for whoever logs it.
//===----------------------------------------------------------------------===//

/// Fired as a user inbound event by `HTTP2ServerConnectionHandler` when it closes a connection on
/// its own initiative (not when the peer closes, not on a protocol error: those go through
/// `errorCaught`).
///
/// The HTTP2 module does not log; a handler after it in the pipeline does, at the level `kind`
/// suggests. `reason` names limits and counts only, never a header value or body byte.
public struct HTTP2ConnectionNotice: Sendable, Hashable, CustomStringConvertible {
  /// What happened. A struct rather than an enum so that new kinds don't break a `switch`.
  public struct Kind: Sendable, Hashable, CustomStringConvertible {
    private enum Base: Hashable {
      case flooded
      case idleTimeout
    }

    private let base: Base

    private init(_ base: Base) { self.base = base }

    /// The peer made us queue more control frames than allowed without reading them (a PING or
    /// SETTINGS flood), or reset too many streams before they were answered (rapid reset):
    /// GOAWAY ENHANCE_YOUR_CALM, then close. Worth a warning.
    public static let flooded = Kind(.flooded)
    /// No open stream and no frame received for `HTTP2Settings.idleTimeout`: graceful GOAWAY, then
    /// close. Routine: worth an info line.
    public static let idleTimeout = Kind(.idleTimeout)

    /// `flooded` or `idle timeout`.
    public var description: String {
      switch self.base {
      case .flooded: "flooded"
      case .idleTimeout: "idle timeout"
      }
    }
  }

  /// What happened.
  public var kind: Kind
  /// One sentence for the log: the limit that was passed and what we do about it.
  public var reason: String

  /// Creates a notice.
  public init(kind: Kind, reason: String) {
    self.kind = kind
    self.reason = reason
  }

  /// `<kind>: <reason>`.
  public var description: String { "\(self.kind): \(self.reason)" }
}
