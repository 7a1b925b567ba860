// The keys the configuration knows, in one place, so the decoder, the environment overlay and
// the unknown-key suggestions can never disagree.

/// Known keys of each mapping in the configuration.
enum ConfigSchema {
  static let topLevel = [
    "listen", "admin_listen", "providers", "headers", "on_unavailable", "grpc", "http2",
    "shutdown_grace_period", "idle_timeout", "log_level", "client_address", "profiles", "rules",
    "default", "problem_types", "http_mode", "tls", "admin_tls", "max_connections", "drain_delay",
    "http1",
  ]
  /// Top-level keys holding a single value (settable by one environment variable).
  static let topLevelScalars: Set<String> = [
    "listen", "admin_listen", "on_unavailable", "shutdown_grace_period", "idle_timeout",
    "log_level", "max_connections", "drain_delay",
  ]
  static let provider = [
    "name", "url", "authority", "ttl", "timeout", "max_stale", "token_file", "required",
    "max_answer_bytes", "header_actions", "tls", "follow_redirects",
  ]
  static let listenerTLS = [
    "cert", "key", "client_ca", "require_client_cert", "min_version", "ciphers", "cipher_suites",
    "handshake_timeout", "reload_interval",
  ]
  static let providerTLS = ["ca", "cert", "key"]
  /// Top-level sections whose keys each hold a single value (`AUGMENTER_<SECTION>__<KEY>`).
  static let scalarSections: [String: [String]] = [
    "grpc": grpc, "http1": http1, "http2": http2, "http_mode": httpMode, "tls": listenerTLS, "admin_tls": listenerTLS,
  ]
  static let grpc = ["max_message_bytes"]
  static let httpMode = ["path_prefix"]
  static let clientAddress = ["from", "header", "trusted_hops"]
  static let headerEntry = ["value", "template", "action"]
  static let profile = ["providers", "headers", "on_unavailable"]
  static let rule = ["name", "match", "allow", "redirect", "deny", "rate_limit"]
  static let outcomes = ["allow", "redirect", "deny", "rate_limit"]
  static let match = [
    "authority", "path_prefix", "path_exact", "method", "client_cidr", "header_present", "header_equals",
    "context_extensions", "peer_identity",
  ]
  static let allow = ["profile", "providers", "headers", "on_unavailable"]
  static let redirect = ["status", "location"]
  static let deny = ["status", "detail", "headers"]
  static let rateLimit = ["key", "requests_per_second", "burst", "max_keys"]
  static let problemType = ["type", "title"]
  static let http1 = ["request_head_timeout", "request_body_timeout", "max_pipelined_requests"]
  static let http2 = [
    "max_concurrent_streams", "initial_window_size", "idle_timeout", "max_outbound_control_frames",
    "max_buffered_request_bytes",
  ]

  /// The WebAssembly filter's keys (see DESIGN.md), with their defaults.
  static let seedCluster = "header_providing_service_cluster"
  static let seedAuthority = "header_providing_service_authority"
  static let seedPath = "header_providing_service_path"
  static let seedExpiry = "header_cache_expiry"
  static let seed = [seedCluster, seedAuthority, seedPath, seedExpiry]

  /// The prefix of environment overrides.
  static let environmentPrefix = "AUGMENTER_"
}

/// Where a value came from when it was not written at its key path in the file.
enum ValueOrigin: Sendable, Equatable {
  /// Set by this environment variable.
  case environment(String)
  /// Derived from this key of the seed filter's format.
  case seedKey(String)
}

/// Collects problems, attributing each to where the offending value came from.
struct ProblemCollector {
  var problems: [ConfigProblem] = []
  var origins: [String: ValueOrigin] = [:]

  /// Records a problem with the value at `keyPath`.
  ///
  /// A value from the environment keeps its key path and names the variable, so the user knows
  /// the file is not at fault; a value derived from a seed key is reported at that key, which is
  /// the one the user wrote.
  mutating func report(_ keyPath: String, _ message: String) {
    switch origins[keyPath] {
    case .environment(let variable):
      problems.append(ConfigProblem(keyPath: keyPath, message: "\(message) (set by environment variable \(variable))"))
    case .seedKey(let key):
      problems.append(ConfigProblem(keyPath: key, message: message))
    case nil:
      problems.append(ConfigProblem(keyPath: keyPath, message: message))
    }
  }
}
