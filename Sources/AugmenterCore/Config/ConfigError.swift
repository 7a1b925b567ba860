// Configuration problems are collected, not thrown one at a time: `augmenter validate` prints
// them all so a user fixes a file in one pass.

/// One thing wrong with a configuration, located by its key path.
public struct ConfigProblem: Sendable, Hashable, CustomStringConvertible {
  /// Where: `providers[0].ttl`, `headers.X Bad`, `http2.initial_window_size`; empty for the whole
  /// document; the file name when the file could not be read.
  public var keyPath: String
  /// What, and when possible what is expected instead. Never quotes a header value.
  public var message: String

  /// Creates a problem.
  public init(keyPath: String, message: String) {
    self.keyPath = keyPath
    self.message = message
  }

  /// `keyPath: message`, or just the message when there is no key path.
  public var description: String {
    keyPath.isEmpty ? message : "\(keyPath): \(message)"
  }
}

/// Every problem found in a configuration.
public struct ConfigError: Error, Sendable, Hashable, CustomStringConvertible {
  /// The problems, in document order as far as possible; never empty when thrown.
  public var problems: [ConfigProblem]

  /// Creates an error from its problems.
  public init(problems: [ConfigProblem]) {
    self.problems = problems
  }

  /// One problem per line.
  public var description: String {
    problems.map(\.description).joined(separator: "\n")
  }
}
