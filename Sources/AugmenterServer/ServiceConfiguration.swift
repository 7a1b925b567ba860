//===----------------------------------------------------------------------===//
// Augmenter — loading the configuration the service runs on: at startup, in `validate`, on reload.
//===----------------------------------------------------------------------===//

public import AugmenterCore

/// The one way a configuration is accepted, so that `validate`, `serve` and a reload agree on
/// every file: what a reload refuses is what a restart would refuse.
public enum ServiceConfiguration {
  /// The file at `path` (or, without one, the built-in defaults), environment overrides applied,
  /// validated, and its TLS files (listeners, provider clients) loaded as the service will load
  /// them; throws every problem, each with its key path.
  public static func load(path: String?, environment: [String: String]) throws(ConfigError) -> AugmenterConfig {
    let config =
      if let path {
        try ConfigLoader.load(path: path, environment: environment)
      } else {
        try ConfigLoader.defaults(environment: environment)
      }
    let tlsProblems = TLSSetup.problems(in: config)
    if !tlsProblems.isEmpty { throw ConfigError(problems: tlsProblems) }
    return config
  }
}
