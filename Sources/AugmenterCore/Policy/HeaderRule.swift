// Header actions and the configured header entries (static, templated, remove) of the policy.

/// What an injected header does to the request Envoy forwards.
///
/// | action | gRPC mode (`ok_response`) | HTTP mode (200 answer) |
/// |---|---|---|
/// | `set` | `append: false` (Envoy replaces every client value) | a response header; Envoy's `allowed_upstream_headers` sets it |
/// | `append` | header present in the request: `append: true` (Envoy joins with `,`); absent: `append: false` | a response header; only works if Envoy lists it in `allowed_upstream_headers_to_append` (added as one more line) |
/// | `add_if_absent` | decided by Augmenter: nothing when the request has the header, else `set` | the same decision, then like `set` |
/// | `remove` | `headers_to_remove` | `x-envoy-auth-headers-to-remove: a, b` |
public enum HeaderAction: String, Sendable, Hashable, CaseIterable {
  /// Replace every value the request has (or add the header). The default.
  case set
  /// Add the value to the header's existing values (or add the header when absent).
  case append
  /// Add the header only when the request does not have it; otherwise leave the request's value.
  case addIfAbsent = "add_if_absent"
  /// Remove the header from the forwarded request.
  case remove
}

/// One configured header entry: a name, an action and where the value comes from.
///
/// Written in the configuration either as `name: "literal value"` (set, the behaviour of plain
/// static headers) or as a mapping `name: {value: "...", action: append}`,
/// `name: {template: "Hello world from {authority}"}`, `name: {action: remove}`.
public struct HeaderRule: Sendable, Hashable {
  /// Where the value comes from.
  public enum Value: Sendable, Hashable {
    /// A fixed text.
    case literal(String)
    /// Rendered from the request on every check.
    case template(Template)
    /// No value (only for `remove`).
    case none
  }

  /// The header name (lower-cased by the loader).
  public var name: String
  /// The value.
  public var value: Value
  /// The action (default `set`).
  public var action: HeaderAction

  /// Creates a header entry.
  public init(name: String, value: Value, action: HeaderAction = .set) {
    self.name = name
    self.value = value
    self.action = action
  }
}
