//===----------------------------------------------------------------------===//
// Augmenter — version string.
//===----------------------------------------------------------------------===//

/// The version printed by `augmenter --version` and sent as the provider user-agent.
public enum AugmenterVersion {
  /// Semantic version of this build.
  public static let current = "0.1.0"
}
