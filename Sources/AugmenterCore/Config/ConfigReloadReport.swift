// What one configuration reload did, as the log, `/status` and `POST /reload` report it.

public import Foundation

/// The result of one reload: applied (with what changed and what waits for a restart), or
/// refused (with every problem and its key path, the configuration in force unchanged).
///
/// Holds names, key paths and problem texts only: never a header value or a token (problem
/// messages never quote a header value, see `ConfigProblem.message`).
public struct ConfigReloadReport: Sendable, Hashable, Encodable {
  /// What asked for the reload.
  public enum Trigger: String, Sendable, Hashable, Encodable {
    /// The configuration file (or the symlink it resolves through) changed.
    case file
    /// The process received SIGHUP.
    case signal = "sighup"
    /// `POST /reload` on the admin port.
    case admin = "post_reload"
  }

  /// When the reload finished.
  public var time: Date
  /// What asked for it.
  public var trigger: Trigger
  /// Whether the new configuration is in force.
  public var ok: Bool
  /// Why it was refused: every problem of the new file, with its key path (empty when `ok`).
  public var problems: [ConfigProblem]
  /// Keys whose new value waits for a restart (the rest applied); empty when none changed.
  public var restartRequired: [String]
  /// Providers whose refresher and headers were kept.
  public var providersKept: [String]
  /// Providers started (added, or restarted because their settings changed).
  public var providersStarted: [String]
  /// Providers stopped (removed, or restarted because their settings changed).
  public var providersStopped: [String]
  /// `rate_limit` rules whose token buckets were kept (by rule label: name, or index).
  public var rateLimitRulesKept: [String]

  /// Creates a report.
  public init(
    time: Date, trigger: Trigger, ok: Bool, problems: [ConfigProblem] = [], restartRequired: [String] = [],
    providersKept: [String] = [], providersStarted: [String] = [], providersStopped: [String] = [],
    rateLimitRulesKept: [String] = []
  ) {
    self.time = time
    self.trigger = trigger
    self.ok = ok
    self.problems = problems
    self.restartRequired = restartRequired
    self.providersKept = providersKept
    self.providersStarted = providersStarted
    self.providersStopped = providersStopped
    self.rateLimitRulesKept = rateLimitRulesKept
  }

  enum CodingKeys: String, CodingKey {
    case time, trigger, ok, problems
    case restartRequired = "restart_required"
    case providersKept = "providers_kept"
    case providersStarted = "providers_started"
    case providersStopped = "providers_stopped"
    case rateLimitRulesKept = "rate_limit_rules_kept"
  }

  enum ProblemKeys: String, CodingKey {
    case keyPath = "key_path"
    case message
  }

  /// Every key always present (empty lists rather than absent ones), problems as
  /// `{"key_path", "message"}` objects.
  public func encode(to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: CodingKeys.self)
    try container.encode(time, forKey: .time)
    try container.encode(trigger, forKey: .trigger)
    try container.encode(ok, forKey: .ok)
    var problems = container.nestedUnkeyedContainer(forKey: .problems)
    for problem in self.problems {
      var entry = problems.nestedContainer(keyedBy: ProblemKeys.self)
      try entry.encode(problem.keyPath, forKey: .keyPath)
      try entry.encode(problem.message, forKey: .message)
    }
    try container.encode(restartRequired, forKey: .restartRequired)
    try container.encode(providersKept, forKey: .providersKept)
    try container.encode(providersStarted, forKey: .providersStarted)
    try container.encode(providersStopped, forKey: .providersStopped)
    try container.encode(rateLimitRulesKept, forKey: .rateLimitRulesKept)
  }
}

extension AugmenterConfig {
  /// The key paths whose values differ between `old` and `new` and that a reload cannot apply
  /// (declared `restartRequired` next to the key), in reference order.
  public static func restartRequiredChanges(from old: AugmenterConfig, to new: AugmenterConfig) -> [String] {
    Self.fields.restartChanges(from: old, to: new)
  }
}
