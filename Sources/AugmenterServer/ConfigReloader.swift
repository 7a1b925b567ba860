//===----------------------------------------------------------------------===//
// Augmenter — configuration reload: load, validate, diff, start/stop providers, one pointer swap.
//===----------------------------------------------------------------------===//

import AugmenterCore
import AugmenterMetrics
import Foundation
import Logging
import Synchronization

/// Applies configuration reloads, one at a time.
///
/// A reload reads the file the service started with (through `ServiceConfiguration.load`,
/// environment overrides and TLS files included, exactly as at startup) and, when it is valid:
/// 1. carries over the state of every provider whose settings are unchanged (its refresher keeps
///    running, its headers stay), starts refreshers for new states and stops those dropped;
/// 2. builds a new decider whose unchanged `rate_limit` rules keep their token buckets;
/// 3. waits (bounded) for the new providers' first headers, so a check never meets a required
///    provider that simply has not been fetched yet;
/// 4. publishes the new `CheckConfiguration` with one pointer swap: every check sees the old
///    configuration or the new one, never a mix.
///
/// Keys declared `restartRequired` (listen addresses, TLS listeners, limits the connections were
/// built with) are compared with the configuration the process started with; a change is
/// reported and waits for a restart, while the rest applies. An invalid file changes nothing:
/// every problem is logged with its key path, kept for `/status`, and the reload metric turns 0.
///
/// Triggers (file watcher, SIGHUP, `POST /reload`) go through one queue served by `run()`:
/// requests that arrive while a reload runs are answered together by the next one, which reads
/// the file as it is then.
final class ConfigReloader: Sendable {
  /// Where the configuration comes from: the file `serve --config` named (or none: the defaults)
  /// and the environment that overrides it.
  struct Source: Sendable {
    var path: String?
    var environment: [String: String]
  }

  private struct Request: Sendable {
    var trigger: ConfigReloadReport.Trigger
    var answer: CheckedContinuation<ConfigReloadReport, Never>?
  }

  private let source: Source
  /// The configuration the listeners were built from: restart-only keys are compared with it.
  private let startup: AugmenterConfig
  private let configuration: Published<CheckConfiguration>
  private let refreshers: ProviderRefreshers
  private let metrics: MetricsRegistry
  private let clock: any AugmenterClock
  private let logger: Logger
  private let rateLimitMetrics: Mutex<RateLimitMetrics>
  private let lastReport = Mutex<ConfigReloadReport?>(nil)
  /// Requests not yet served; `nil` once `run()` returned (requests are then refused at once).
  private let pending = Mutex<[Request]?>([])
  private let wake: AsyncStream<Void>.Continuation
  private let wakes: AsyncStream<Void>

  init(
    source: Source, startup: AugmenterConfig, configuration: Published<CheckConfiguration>,
    refreshers: ProviderRefreshers, metrics: MetricsRegistry, rateLimitMetrics: RateLimitMetrics,
    clock: any AugmenterClock, logger: Logger
  ) {
    self.source = source
    self.startup = startup
    self.configuration = configuration
    self.refreshers = refreshers
    self.metrics = metrics
    self.rateLimitMetrics = Mutex(rateLimitMetrics)
    self.clock = clock
    self.logger = logger
    // One wake-up is enough however many requests arrive: the loop takes them all.
    let (wakes, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    self.wakes = wakes
    self.wake = wake
  }

  /// The last reload's result; `nil` before the first.
  var last: ConfigReloadReport? { self.lastReport.withLock { $0 } }

  /// Requests waiting for the next reload (tests observe coalescing through it).
  var waitingRequests: Int { self.pending.withLock { $0?.count ?? 0 } }

  /// Asks for a reload without waiting for it (file watcher, SIGHUP).
  func request(_ trigger: ConfigReloadReport.Trigger) {
    let queued = self.pending.withLock { pending -> Bool in
      guard pending != nil else { return false }
      pending?.append(Request(trigger: trigger, answer: nil))
      return true
    }
    if queued { self.wake.yield() }
  }

  /// Reloads (after any reload in progress) and returns the result (`POST /reload`).
  func reload(_ trigger: ConfigReloadReport.Trigger) async -> ConfigReloadReport {
    await withCheckedContinuation { continuation in
      let queued = self.pending.withLock { pending -> Bool in
        guard pending != nil else { return false }
        pending?.append(Request(trigger: trigger, answer: continuation))
        return true
      }
      if queued {
        self.wake.yield()
      } else {
        continuation.resume(returning: Self.shuttingDown(trigger))
      }
    }
  }

  /// Serves reload requests, one reload at a time, until cancelled; then refuses what is left.
  func run() async {
    for await _ in self.wakes {
      if Task.isCancelled { break }
      let batch = self.pending.withLock { pending in
        defer { pending = pending.map { _ in [] } }
        return pending ?? []
      }
      guard let first = batch.first else { continue }
      // Requests that arrived together are one reload: the file is read once, as it is now.
      let report = await self.apply(first.trigger)
      for request in batch { request.answer?.resume(returning: report) }
    }
    let left = self.pending.withLock { pending in
      defer { pending = nil }
      return pending ?? []
    }
    for request in left { request.answer?.resume(returning: Self.shuttingDown(request.trigger)) }
  }

  /// Stops `run()` (shutdown).
  func finish() {
    self.wake.finish()
  }

  /// One reload, as described on the type.
  func apply(_ trigger: ConfigReloadReport.Trigger) async -> ConfigReloadReport {
    let new: AugmenterConfig
    do throws(ConfigError) {
      new = try ServiceConfiguration.load(path: self.source.path, environment: self.source.environment)
    } catch {
      return self.refused(trigger, problems: error.problems)
    }

    let old = self.configuration.value
    let registry = ProviderRegistry(config: new, previous: old.decider.providers)
    let providers = registry.changes(from: old.decider.providers)
    let decider = Decider(config: new, registry: registry, previous: old.decider)
    let keptLimiters = decider.rateLimiters.filter { entry in
      old.decider.rateLimiters.contains { $0.limiter === entry.limiter }
    }

    // Series of a dropped provider go before those of a new state of the same name are made.
    self.refreshers.stop(providers.stopped)
    self.refreshers.start(providers.started)
    if !providers.started.isEmpty {
      let longest = providers.started.map(\.config.timeout).max() ?? .zero
      await self.refreshers.waitForFirstResults(of: providers.started, limit: min(longest + .seconds(1), .seconds(10)))
    }

    let next = CheckConfiguration(config: new, decider: decider, registry: self.metrics)
    self.rateLimitMetrics.withLock { current in
      current = RateLimitMetrics(decider: decider, clock: self.clock, registry: self.metrics, previous: current)
    }
    // The one step checks can observe.
    self.configuration.replace(with: next)
    // Rules gone with the old configuration take their check series along.
    old.grpcMetrics.removeSeries(missingFrom: next.grpcMetrics, in: self.metrics)
    old.httpMetrics.removeSeries(missingFrom: next.httpMetrics, in: self.metrics)

    let now = Date()
    self.metrics.configurationLoaded(at: now)
    let names = providers.names
    let report = ConfigReloadReport(
      time: now, trigger: trigger, ok: true,
      restartRequired: AugmenterConfig.restartRequiredChanges(from: self.startup, to: new),
      providersKept: names.kept, providersStarted: names.started, providersStopped: names.stopped,
      rateLimitRulesKept: keptLimiters.map { decider.outcomeSources[$0.rule].rule })
    self.lastReport.withLock { $0 = report }
    self.logger.info(
      "configuration reloaded",
      metadata: [
        "trigger": "\(trigger.rawValue)",
        "providers_kept": "\(names.kept.joined(separator: ","))",
        "providers_started": "\(names.started.joined(separator: ","))",
        "providers_stopped": "\(names.stopped.joined(separator: ","))",
        "rate_limit_rules_kept": "\(report.rateLimitRulesKept.joined(separator: ","))",
      ])
    if !report.restartRequired.isEmpty {
      self.logger.warning(
        "configuration reloaded, but these keys changed and need a restart to apply; their values at startup stay in force",
        metadata: ["restart_required": "\(report.restartRequired.joined(separator: ","))"])
    }
    return report
  }

  /// Records and logs a refused reload: nothing changes but the reload metric and `/status`.
  private func refused(_ trigger: ConfigReloadReport.Trigger, problems: [ConfigProblem]) -> ConfigReloadReport {
    let report = ConfigReloadReport(time: Date(), trigger: trigger, ok: false, problems: problems)
    self.lastReport.withLock { $0 = report }
    self.metrics.configurationReloadFailed()
    self.logger.error(
      "configuration reload failed; the configuration in force is unchanged",
      metadata: ["trigger": "\(trigger.rawValue)", "problems": "\(problems.count)"])
    for problem in problems {
      self.logger.error(
        "configuration problem", metadata: ["key_path": "\(problem.keyPath)", "problem": "\(problem.message)"])
    }
    return report
  }

  /// The answer to a request that came after shutdown began.
  private static func shuttingDown(_ trigger: ConfigReloadReport.Trigger) -> ConfigReloadReport {
    ConfigReloadReport(
      time: Date(), trigger: trigger, ok: false,
      problems: [ConfigProblem(keyPath: "", message: "not reloaded: the service is shutting down")])
  }
}
