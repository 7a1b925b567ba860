// The keys the configuration knows, in one place, so the decoder, the environment overlay and
// the unknown-key suggestions can never disagree.

/// What the environment overlay and the seed format need to know of the keys, derived from the
/// declarations (`AugmenterConfig.fields` and the tables it nests), never listed by hand.
enum ConfigSchema {
  /// The top-level keys.
  static let topLevel = AugmenterConfig.fields.names
  /// Top-level keys holding a single value (settable by one environment variable).
  static let topLevelScalars: Set<String> = Set(
    AugmenterConfig.fields.docs.filter { (doc: ConfigKeyDoc) in doc.isEnvironmentScalar }.map { $0.name })
  /// Top-level sections whose single-value keys are settable one by one (`AUGMENTER_<SECTION>__<KEY>`).
  static let scalarSections: [String: [String]] = Dictionary(
    uniqueKeysWithValues: AugmenterConfig.fields.docs
      .filter { (doc: ConfigKeyDoc) in doc.shape == ConfigKeyDoc.Shape.mapping && doc.fromEnvironment }
      .map { (doc: ConfigKeyDoc) in (doc.name, doc.children.filter { $0.isEnvironmentScalar }.map { $0.name }) })
  /// The keys of a provider entry.
  static let provider = ProviderConfig.fields.names
  /// The keys of a provider's `tls`.
  static let providerTLS = ProviderTLSConfig.fields.names
  /// The outcome keys of a rule, in the order messages list them.
  static let outcomes = ["allow", "redirect", "deny", "rate_limit"]

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
