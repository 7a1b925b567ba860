//===----------------------------------------------------------------------===//
// Augmenter — gRPC status codes and the status a call ends with.
//===----------------------------------------------------------------------===//

/// A gRPC status: code plus a human-readable message (sent as `grpc-message`).
public struct GRPCStatus: Error, Sendable, Hashable, CustomStringConvertible {
  /// A gRPC status code. A struct, not an enum, so codes we don't name still round-trip.
  public struct Code: Sendable, Hashable, CustomStringConvertible {
    /// The numeric value sent in `grpc-status`.
    public var rawValue: Int

    /// Wraps a numeric code.
    public init(rawValue: Int) { self.rawValue = rawValue }

    /// 0.
    public static let ok = Code(rawValue: 0)
    /// 1.
    public static let cancelled = Code(rawValue: 1)
    /// 2.
    public static let unknown = Code(rawValue: 2)
    /// 3: the request is malformed (bad frame, bad protobuf).
    public static let invalidArgument = Code(rawValue: 3)
    /// 4.
    public static let deadlineExceeded = Code(rawValue: 4)
    /// 5: e.g. an unknown health service name.
    public static let notFound = Code(rawValue: 5)
    /// 7.
    public static let permissionDenied = Code(rawValue: 7)
    /// 8: a message over the size limit.
    public static let resourceExhausted = Code(rawValue: 8)
    /// 9.
    public static let failedPrecondition = Code(rawValue: 9)
    /// 12: unknown method, or a feature we don't implement (compression).
    public static let unimplemented = Code(rawValue: 12)
    /// 13.
    public static let `internal` = Code(rawValue: 13)
    /// 14.
    public static let unavailable = Code(rawValue: 14)
    /// 16.
    public static let unauthenticated = Code(rawValue: 16)

    /// The decimal code.
    public var description: String { String(self.rawValue) }
  }

  /// The code.
  public var code: Code
  /// The message; empty for none.
  public var message: String

  /// Creates a status.
  public init(_ code: Code, _ message: String = "") {
    self.code = code
    self.message = message
  }

  /// OK with no message.
  public static let ok = GRPCStatus(.ok)

  /// `<code>: <message>`.
  public var description: String { "grpc-status \(self.code.rawValue): \(self.message)" }
}
