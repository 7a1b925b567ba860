// All provider states of a configuration, in configuration order.

/// The providers' shared states; what readiness and every decision read.
public final class ProviderRegistry: Sendable {
  /// One state per configured provider, in configuration order.
  public let states: [ProviderState]

  /// Creates a state (with no snapshot yet) for every provider of `config`.
  public init(config: AugmenterConfig) {
    self.states = config.providers.map { ProviderState(config: $0) }
  }

  /// The state of the provider named `name`.
  public func state(named name: String) -> ProviderState? {
    states.first { $0.config.name == name }
  }

  /// Whether every required provider has usable headers at `now` (`/readyz`).
  public func isReady(at now: MonotonicInstant) -> Bool {
    states.allSatisfy { !$0.config.required || $0.usableHeaders(at: now) != nil }
  }

  /// The names of the required providers without usable headers at `now`, in configuration
  /// order.
  public func unavailableRequiredProviders(at now: MonotonicInstant) -> [String] {
    states.filter { $0.config.required && $0.usableHeaders(at: now) == nil }.map(\.config.name)
  }
}
