// What the decision knows about a checked request. Adapters build it from the wire (gRPC
// CheckRequest or an HTTP-mode request); it must stay cheap to build, because it is built on
// every check: nothing here is copied more than a reference.

/// The parts of a checked request the decision looks at.
public struct CheckRequestAttributes: Sendable, Hashable {
  /// The request method (`GET`).
  public var method: String
  /// The request path with query (`/a?b=c`).
  public var path: String
  /// The request's `:authority` / `Host`.
  public var authority: String
  /// `http` or `https`.
  public var scheme: String
  /// Envoy's `x-request-id`, when present; used as the problem document's `instance`.
  public var requestID: String?
  /// The request headers the check carried (lower-case names).
  ///
  /// gRPC mode: every client header unless Envoy's `allowed_headers` narrows them; HTTP mode:
  /// only those Envoy forwards to the check (`allowed_headers`, plus `authorization`).
  public var headers: RequestHeaders
  /// The downstream peer's IP address as Envoy saw it (gRPC: `attributes.source.address`).
  /// HTTP mode has none: the TCP peer of a check is Envoy itself.
  public var sourceAddress: String?
  /// The local address the request arrived on (gRPC: `attributes.destination.address`).
  public var destinationAddress: String?
  /// Envoy's per-route `context_extensions` (gRPC only; HTTP mode has none).
  public var contextExtensions: [String: String]
  /// The verified TLS client certificate identity of the connection the check arrived on (the
  /// caller, typically Envoy): its first URI SAN, else first DNS SAN, else its subject; `nil`
  /// on plaintext connections and without a client certificate.
  public var peerIdentity: String?

  /// Creates request attributes.
  public init(
    method: String,
    path: String,
    authority: String,
    scheme: String,
    requestID: String? = nil,
    headers: RequestHeaders = RequestHeaders(),
    sourceAddress: String? = nil,
    destinationAddress: String? = nil,
    contextExtensions: [String: String] = [:],
    peerIdentity: String? = nil
  ) {
    self.method = method
    self.path = path
    self.authority = authority
    self.scheme = scheme
    self.requestID = requestID
    self.headers = headers
    self.sourceAddress = sourceAddress
    self.destinationAddress = destinationAddress
    self.contextExtensions = contextExtensions
    self.peerIdentity = peerIdentity
  }
}

/// Request headers by lower-case name, over whichever form the adapter has at hand.
///
/// Building one costs nothing beyond a reference copy: gRPC's `headers` map (#3) is used as is;
/// `header_map` (#13) and HTTP-mode heads are kept as a list and searched linearly (a request
/// has a few dozen headers at most, and the decision looks up only the few its rules name).
public struct RequestHeaders: Sendable, Hashable {
  private enum Storage: Sendable, Hashable {
    case map([String: String])
    case fields([HeaderField])
  }

  private let storage: Storage

  /// No headers.
  public init() {
    self.storage = .map([:])
  }

  /// Headers whose duplicates are already joined (gRPC `http.headers`: lower-case names,
  /// duplicate values joined with `,`).
  public init(_ map: [String: String]) {
    self.storage = .map(map)
  }

  /// Headers as a list, duplicates kept, names lower-case (gRPC `header_map`, HTTP mode).
  public init(fields: [HeaderField]) {
    self.storage = .fields(fields)
  }

  /// The value of `name` (lower-case); several values are joined with `,` as Envoy does.
  public subscript(name: String) -> String? {
    switch storage {
    case .map(let map):
      return map[name]
    case .fields(let fields):
      var found: String?
      for field in fields where field.name == name {
        if let previous = found {
          found = previous + "," + field.value
        } else {
          found = field.value
        }
      }
      return found
    }
  }

  /// Whether the request has the header `name` (lower-case), even with an empty value.
  public func contains(_ name: String) -> Bool {
    switch storage {
    case .map(let map): return map[name] != nil
    case .fields(let fields): return fields.contains { $0.name == name }
    }
  }
}
