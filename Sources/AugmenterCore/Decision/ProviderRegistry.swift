// All provider states of a configuration, in configuration order.

/// The providers' shared states; what readiness and every decision read.
public final class ProviderRegistry: Sendable {
  /// One state per configured provider, in configuration order.
  public let states: [ProviderState]

  /// Creates a state (with no snapshot yet) for every provider of `config`.
  public init(config: AugmenterConfig) {
    self.states = config.providers.map { ProviderState(config: $0) }
  }

  /// The registry of `config` after a reload from `previous`: a provider whose settings are all
  /// unchanged keeps its state (its current headers, its history, and so its refresher); any
  /// other gets a new state with no snapshot yet.
  ///
  /// Providers are matched by name and compared by their whole configuration: a provider whose
  /// URL, ttl or any other key changed starts over, since its old headers may not hold for the
  /// new settings.
  public init(config: AugmenterConfig, previous: ProviderRegistry) {
    self.states = config.providers.map { provider in
      previous.states.first { $0.config == provider } ?? ProviderState(config: provider)
    }
  }

  /// Which states of `self` are carried over from `previous` (kept), which are new (started)
  /// and which of `previous` are gone (stopped): what a reload does to the refreshers.
  public func changes(from previous: ProviderRegistry) -> ProviderChanges {
    let kept = self.states.filter { state in previous.states.contains { $0 === state } }
    let started = self.states.filter { state in !kept.contains { $0 === state } }
    let stopped = previous.states.filter { state in !kept.contains { $0 === state } }
    return ProviderChanges(kept: kept, started: started, stopped: stopped)
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

/// What a reload does to the providers: the states carried over, started and stopped.
public struct ProviderChanges: Sendable {
  /// States carried over unchanged: their refreshers keep running and their headers stay.
  public var kept: [ProviderState]
  /// New states (added providers, or providers whose settings changed): refreshers to start.
  public var started: [ProviderState]
  /// States gone from the configuration (removed providers, or the old state of a changed one):
  /// refreshers to stop.
  public var stopped: [ProviderState]

  /// The names of `kept`, `started` and `stopped`, for logs, `/status` and tests.
  public var names: (kept: [String], started: [String], stopped: [String]) {
    (kept.map(\.config.name), started.map(\.config.name), stopped.map(\.config.name))
  }
}
