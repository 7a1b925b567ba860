// The metrics side of a configuration reload: the reload gauges, series made again for the new
// configuration, and series of a dropped provider taken out.

import AugmenterCore
import AugmenterMetrics
import Foundation
import TestSupport
import Testing

@Suite("Metrics across configuration reloads")
struct ReloadMetricsTests {
  @Test("a refused reload sets last_reload_successful to 0 and keeps the last success's time; a success sets both")
  func reloadGauges() {
    let registry = MetricsRegistry(version: "1.0.0")
    registry.configurationLoaded(at: Date(timeIntervalSince1970: 1_700_000_000))
    registry.configurationReloadFailed()
    var exposition = Exposition(text: registry.exposition())
    #expect(exposition.value("augmenter_config_last_reload_successful") == 0)
    #expect(exposition.value("augmenter_config_last_reload_success_timestamp_seconds") == 1_700_000_000)
    registry.configurationLoaded(at: Date(timeIntervalSince1970: 1_700_000_060))
    exposition = Exposition(text: registry.exposition())
    #expect(exposition.value("augmenter_config_last_reload_successful") == 1)
    #expect(exposition.value("augmenter_config_last_reload_success_timestamp_seconds") == 1_700_000_060)
  }

  @Test("check series made again for a reloaded configuration are the same series: counts carry on, no duplicate")
  func checkSeriesReused() throws {
    let registry = MetricsRegistry(version: "1.0.0")
    let config = try ConfigLoader.parse("rules: [{name: r, match: {path_prefix: /x/}, deny: {status: 403}}]", environment: [:])
    let decider = Decider(config: config, registry: ProviderRegistry(config: config))
    let first = CheckMetrics(front: .grpc, sources: decider.outcomeSources, registry: registry)
    var outcome = DecisionOutcome.error
    outcome.source = 0
    outcome.kind = .deny
    first.record(outcome, started: CheckMetrics.start())
    // The reload's configuration: the same rule, so the same series.
    let second = CheckMetrics(front: .grpc, sources: decider.outcomeSources, registry: registry)
    second.record(outcome, started: CheckMetrics.start())
    let exposition = Exposition(text: registry.exposition())
    #expect(exposition.value(#"augmenter_checks_total{front="grpc",outcome="deny",rule="r",profile=""}"#) == 2)
    #expect(exposition.series(of: "augmenter_check_duration_seconds_count") == [#"augmenter_check_duration_seconds_count{front="grpc"}"#])
    #expect(exposition.value(#"augmenter_check_duration_seconds_count{front="grpc"}"#) == 2)
  }

  @Test("a removed provider's series leave the exposition; the others stay")
  func providerSeriesRemoved() throws {
    let registry = MetricsRegistry(version: "1.0.0")
    let config = try ConfigLoader.parse(
      """
      providers:
        - {name: kept, url: "http://127.0.0.1:1/a"}
        - {name: gone, url: "http://127.0.0.1:1/b"}
      """, environment: [:])
    let providers = ProviderRegistry(config: config)
    let clock = ManualClock()
    let metrics = providers.states.map { ProviderMetrics(state: $0, clock: clock, registry: registry) }
    #expect(registry.exposition().contains(#"provider="gone""#))
    metrics[1].remove()
    let text = registry.exposition()
    #expect(!text.contains(#"provider="gone""#), "\(text)")
    #expect(Exposition(text: text).value(#"augmenter_provider_usable{provider="kept"}"#) == 0)
  }

  @Test("rate-limit series: a rule kept keeps its series, a rule removed takes its series out")
  func rateLimitSeries() throws {
    let registry = MetricsRegistry(version: "1.0.0")
    let clock = ManualClock()
    let old = try ConfigLoader.parse(
      """
      rules:
        - {name: kept, match: {path_prefix: /a/}, rate_limit: {requests_per_second: 1}}
        - {name: gone, match: {path_prefix: /b/}, rate_limit: {requests_per_second: 1}}
      """, environment: [:])
    let new = try ConfigLoader.parse(
      "rules: [{name: kept, match: {path_prefix: /a/}, rate_limit: {requests_per_second: 1}}]", environment: [:])
    let before = Decider(config: old, registry: ProviderRegistry(config: old))
    let first = RateLimitMetrics(decider: before, clock: clock, registry: registry)
    #expect(Exposition(text: registry.exposition()).series(of: "augmenter_rate_limit_keys").count == 2)
    let after = Decider(config: new, registry: ProviderRegistry(config: new), previous: before)
    _ = RateLimitMetrics(decider: after, clock: clock, registry: registry, previous: first)
    #expect(
      Exposition(text: registry.exposition()).series(of: "augmenter_rate_limit_keys") == [
        #"augmenter_rate_limit_keys{rule="kept"}"#
      ])
  }

  @Test("check series of a rule a reload removed leave the exposition; those of rules kept stay, with their counts")
  func checkSeriesOfRemovedRules() throws {
    let registry = MetricsRegistry(version: "1.0.0")
    let old = try ConfigLoader.parse(
      """
      rules:
        - {name: kept, match: {path_prefix: /a/}, deny: {status: 403}}
        - {name: gone, match: {path_prefix: /b/}, deny: {status: 403}}
      """, environment: [:])
    let new = try ConfigLoader.parse("rules: [{name: kept, match: {path_prefix: /a/}, deny: {status: 403}}]", environment: [:])
    let before = CheckMetrics(
      front: .grpc, sources: Decider(config: old, registry: ProviderRegistry(config: old)).outcomeSources, registry: registry)
    var outcome = DecisionOutcome.error
    outcome.source = 0
    outcome.kind = .deny
    before.record(outcome, started: CheckMetrics.start())
    let after = CheckMetrics(
      front: .grpc, sources: Decider(config: new, registry: ProviderRegistry(config: new)).outcomeSources, registry: registry)
    before.removeSeries(missingFrom: after, in: registry)
    let exposition = Exposition(text: registry.exposition())
    #expect(exposition.value(#"augmenter_checks_total{front="grpc",outcome="deny",rule="kept",profile=""}"#) == 1)
    #expect(!exposition.text.contains(#"rule="gone""#), "\(exposition.text)")
    #expect(exposition.value(#"augmenter_checks_total{front="grpc",outcome="allow",rule="default",profile=""}"#) == 0)
  }
}
