//===----------------------------------------------------------------------===//
// Configuration reloads in process: what is kept, started, stopped, refused, and when it is published.
//===----------------------------------------------------------------------===//

import AugmenterCore
import AugmenterMetrics
import Foundation
import Logging
import Synchronization
import Testing

@testable import AugmenterServer

/// Answers every provider with one header named after it (`x-<name>: <name>-value`) and counts
/// fetches by provider; a provider named `slow` is answered only once `release()` is called.
private final class NamedFetcher: ProviderFetcher, Sendable {
  private let counts = Mutex<[String: Int]>([:])
  private let held = Mutex<(released: Bool, waiting: [CheckedContinuation<Void, Never>])>((false, []))

  func fetch(_ provider: ProviderConfig) async throws -> FetchedAnswer {
    self.counts.withLock { $0[provider.name, default: 0] += 1 }
    if provider.name == "slow" {
      await withCheckedContinuation { continuation in
        let now = self.held.withLock { held -> Bool in
          if held.released { return true }
          held.waiting.append(continuation)
          return false
        }
        if now { continuation.resume() }
      }
    }
    return FetchedAnswer(status: 200, body: Array(#"{"x-\#(provider.name)": "\#(provider.name)-value"}"#.utf8))
  }

  func fetches(of name: String) -> Int { self.counts.withLock { $0[name] ?? 0 } }

  /// Lets every held fetch of `slow` answer, and those to come.
  func release() {
    let waiting = self.held.withLock { held in
      held.released = true
      defer { held.waiting = [] }
      return held.waiting
    }
    for continuation in waiting { continuation.resume() }
  }
}

/// A reloader over a configuration file in a temporary directory, wired as `AugmenterService` does.
private struct Rig: Sendable {
  let directory: URL
  let file: URL
  let fetcher = NamedFetcher()
  let metrics = MetricsRegistry()
  let configuration: Published<CheckConfiguration>
  let refreshers: ProviderRefreshers
  let reloader: ConfigReloader

  init(_ yaml: String) throws {
    self.directory = FileManager.default.temporaryDirectory.appendingPathComponent("reload-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: self.directory, withIntermediateDirectories: true)
    self.file = self.directory.appendingPathComponent("augmenter.yaml")
    try yaml.write(to: self.file, atomically: true, encoding: .utf8)
    let config = try ConfigLoader.load(path: self.file.path, environment: [:])
    let decider = Decider(config: config, registry: ProviderRegistry(config: config))
    let clock = SystemClock()
    let logger = Logger(label: "reload-test")
    self.configuration = Published(CheckConfiguration(config: config, decider: decider, registry: self.metrics))
    self.refreshers = ProviderRefreshers(fetcher: self.fetcher, clock: clock, logger: logger, metrics: self.metrics)
    self.reloader = ConfigReloader(
      source: .init(path: self.file.path, environment: [:]), startup: config, configuration: self.configuration,
      refreshers: self.refreshers, metrics: self.metrics,
      rateLimitMetrics: RateLimitMetrics(decider: decider, clock: clock, registry: self.metrics), clock: clock, logger: logger)
    self.refreshers.start(decider.providers.states)
  }

  func write(_ yaml: String) throws {
    try yaml.write(to: self.file, atomically: true, encoding: .utf8)
  }

  /// The header names and values an allow of `path` gets from the configuration in force.
  func headers(path: String = "/") -> [String: String] {
    let request = CheckRequestAttributes(
      method: "GET", path: path, authority: "a", scheme: "http", requestID: nil, headers: RequestHeaders([:]))
    guard case .allow(let headers) = self.configuration.value.decider.decide(request, at: SystemClock().now()) else {
      return [:]
    }
    return Dictionary(headers.map { ($0.name, $0.value) }, uniquingKeysWith: { $1 })
  }

  func waitForHeaders(_ name: String) async throws {
    // Generous: the first fetch is immediate, but the whole unit suite shares two cores.
    let deadline = ContinuousClock.now + .seconds(60)
    while self.headers()[name] == nil {
      guard ContinuousClock.now < deadline else { throw CancellationError() }
      try await Task.sleep(for: .milliseconds(10))
    }
  }

  func tearDown() async {
    await self.refreshers.stopAll()
    try? FileManager.default.removeItem(at: self.directory)
  }
}

/// The value of the series `series` (name and labels as exposed) in `exposition`, if present.
private func value(_ series: String, in exposition: String) -> Double? {
  for line in exposition.split(separator: "\n") where line.hasPrefix(series + " ") {
    return Double(line.dropFirst(series.count + 1))
  }
  return nil
}

@Suite("Configuration reloader")
struct ConfigReloaderTests {
  static let first = """
    listen: 127.0.0.1:9000
    headers: {x-version: "1"}
    providers:
      - {name: kept, url: "http://127.0.0.1:1/kept", ttl: 1h}
      - {name: dropped, url: "http://127.0.0.1:1/dropped", ttl: 1h}
    """

  @Test("a valid file: kept providers stay, added ones serve from the first check after the swap, dropped ones stop")
  func appliesChanges() async throws {
    let rig = try Rig(Self.first)
    defer { Task { await rig.tearDown() } }
    try await rig.waitForHeaders("x-kept")
    try await rig.waitForHeaders("x-dropped")
    let before = rig.configuration.value
    let keptFetches = rig.fetcher.fetches(of: "kept")

    try rig.write(
      """
      listen: 127.0.0.1:9001
      headers: {x-version: "2"}
      providers:
        - {name: kept, url: "http://127.0.0.1:1/kept", ttl: 1h}
        - {name: added, url: "http://127.0.0.1:1/added", ttl: 1h, timeout: 9s}
      """)
    // timeout 9s: the swap waits up to 10 s for the added provider's first fetch, which a
    // refresher task starved by the rest of the suite (two cooperative threads, under ASan in
    // CI) needs; with the default 2s, that wait (3 s) was missed once under load.
    let report = await rig.reloader.apply(.admin)
    #expect(report.ok)
    #expect(report.providersKept == ["kept"])
    #expect(report.providersStarted == ["added"])
    #expect(report.providersStopped == ["dropped"])
    #expect(report.restartRequired == ["listen"])
    #expect(rig.configuration.value !== before, "a new configuration is in force")
    // The added provider's headers are there at the first check after the swap.
    #expect(rig.headers() == ["x-kept": "kept-value", "x-added": "added-value", "x-version": "2"])
    #expect(rig.fetcher.fetches(of: "kept") == keptFetches, "the kept provider's refresher was not restarted (ttl 1h)")
    let exposition = rig.metrics.exposition()
    #expect(value(#"augmenter_provider_usable{provider="added"}"#, in: exposition) == 1)
    #expect(!exposition.contains(#"provider="dropped""#), "a dropped provider's series leave /metrics")
    #expect(value("augmenter_config_last_reload_successful", in: exposition) == 1)
    #expect(rig.reloader.last == report)
  }

  @Test("an invalid file changes nothing: every problem with its key path, the metric at 0, the old headers stay")
  func refusesInvalidFile() async throws {
    let rig = try Rig(Self.first)
    defer { Task { await rig.tearDown() } }
    try await rig.waitForHeaders("x-kept")
    let before = rig.configuration.value
    try rig.write(
      """
      headers: {x-version: "2"}
      on_unavailable: maybe
      providers:
        - {name: kept, url: "http://127.0.0.1:1/kept", ttl: banana}
      """)
    let report = await rig.reloader.apply(.signal)
    #expect(!report.ok)
    #expect(report.trigger == .signal)
    #expect(Set(report.problems.map(\.keyPath)) == ["on_unavailable", "providers[0].ttl"])
    #expect(rig.configuration.value === before, "the configuration in force is the same object")
    #expect(rig.headers()["x-version"] == "1")
    #expect(value("augmenter_config_last_reload_successful", in: rig.metrics.exposition()) == 0)
    #expect(rig.reloader.last?.ok == false)

    // Fixed, it applies, and the metric turns 1 again.
    try rig.write(Self.first.replacingOccurrences(of: #"x-version: "1""#, with: #"x-version: "3""#))
    #expect(await rig.reloader.apply(.file).ok)
    #expect(rig.headers()["x-version"] == "3")
    #expect(value("augmenter_config_last_reload_successful", in: rig.metrics.exposition()) == 1)
  }

  @Test("a file serve would refuse (a provider's CA file that is no certificate) is refused by a reload too")
  func refusesWhatServeRefuses() async throws {
    let rig = try Rig(Self.first)
    defer { Task { await rig.tearDown() } }
    let before = rig.configuration.value
    // The file exists (the loader's check passes); only loading it as the client will fails.
    let ca = rig.directory.appendingPathComponent("not-a-ca.pem")
    try "not a certificate\n".write(to: ca, atomically: true, encoding: .utf8)
    try rig.write(
      """
      providers:
        - {name: kept, url: "https://127.0.0.1:1/kept", tls: {ca: "\(ca.path)"}}
      """)
    let report = await rig.reloader.apply(.file)
    #expect(!report.ok)
    #expect(report.problems.map(\.keyPath) == ["providers[0].tls"], "\(report.problems)")
    #expect(rig.configuration.value === before)
  }

  @Test("triggers that arrive while a reload runs are served together by one more reload, not one each")
  func coalesces() async throws {
    let rig = try Rig(Self.first)
    defer { Task { await rig.tearDown() } }
    let loop = Task { await rig.reloader.run() }
    // The first reload adds a provider whose first fetch is held: it waits for it (up to 10 s,
    // well beyond what the queueing below takes).
    try rig.write(Self.first + "\n  - {name: slow, url: \"http://127.0.0.1:1/slow\", ttl: 1h, timeout: 9s}\n")
    let first = Task { await rig.reloader.reload(.admin) }
    var deadline = ContinuousClock.now + .seconds(60)
    while rig.fetcher.fetches(of: "slow") == 0 && ContinuousClock.now < deadline {
      try await Task.sleep(for: .milliseconds(5))
    }
    // Meanwhile: a SIGHUP, a file change and three POSTs, all queued before the first ends.
    rig.reloader.request(.signal)
    rig.reloader.request(.file)
    let later = (0..<3).map { _ in Task { await rig.reloader.reload(.admin) } }
    deadline = ContinuousClock.now + .seconds(60)
    while rig.reloader.waitingRequests < 5 && ContinuousClock.now < deadline {
      try await Task.sleep(for: .milliseconds(5))
    }
    #expect(rig.reloader.waitingRequests == 5)
    rig.fetcher.release()
    let firstReport = await first.value
    var laterReports: [ConfigReloadReport] = []
    for task in later { laterReports.append(await task.value) }
    #expect(firstReport.ok && firstReport.providersStarted == ["slow"])
    #expect(rig.headers()["x-slow"] == "slow-value", "published once slow answered")
    #expect(laterReports.allSatisfy { $0 == laterReports[0] }, "one reload answered all three")
    #expect(laterReports[0].trigger == .signal, "the first waiting trigger names it")
    #expect(laterReports[0].providersKept == ["kept", "dropped", "slow"])
    rig.reloader.finish()
    await loop.value
  }

  @Test("requests are served one reload at a time by run(); after finish() they are refused at once")
  func queue() async throws {
    let rig = try Rig(Self.first)
    defer { Task { await rig.tearDown() } }
    let loop = Task { await rig.reloader.run() }
    let reports = await withTaskGroup(of: ConfigReloadReport.self) { group in
      for _ in 0..<5 { group.addTask { await rig.reloader.reload(.admin) } }
      rig.reloader.request(.file)
      return await group.reduce(into: []) { $0.append($1) }
    }
    #expect(reports.count == 5)
    #expect(reports.allSatisfy { $0.ok })
    rig.reloader.finish()
    await loop.value
    let late = await rig.reloader.reload(.admin)
    #expect(!late.ok)
  }

  @Test("the file watcher sees a Kubernetes ConfigMap swap of the ..data symlink")
  func watcherSeesSymlinkSwap() async throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("configmap-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: directory) }
    let manager = FileManager.default
    for (version, text) in [("..2026_01", "a: 1\n"), ("..2026_02", "a: 2\n")] {
      try manager.createDirectory(at: directory.appendingPathComponent(version), withIntermediateDirectories: true)
      try text.write(to: directory.appendingPathComponent("\(version)/augmenter.yaml"), atomically: true, encoding: .utf8)
    }
    try manager.createSymbolicLink(atPath: directory.appendingPathComponent("..data").path, withDestinationPath: "..2026_01")
    let path = directory.appendingPathComponent("augmenter.yaml").path
    try manager.createSymbolicLink(atPath: path, withDestinationPath: "..data/augmenter.yaml")

    let changes = Atomic<Int>(0)
    let watcher = ConfigFileWatcher(path: path, interval: .milliseconds(20))
    let watching = Task { await watcher.run { changes.add(1, ordering: .relaxed) } }
    defer { watching.cancel() }
    try await Task.sleep(for: .milliseconds(100))
    #expect(changes.load(ordering: .relaxed) == 0, "nothing changed yet")

    // The kubelet's swap: a new symlink renamed over ..data (same size, same mtime second).
    let before = ConfigFileWatcher.signature(of: path)
    try manager.createSymbolicLink(atPath: directory.appendingPathComponent("..data_tmp").path, withDestinationPath: "..2026_02")
    #expect(rename(directory.appendingPathComponent("..data_tmp").path, directory.appendingPathComponent("..data").path) == 0)
    #expect(ConfigFileWatcher.signature(of: path) != before)
    let deadline = ContinuousClock.now + .seconds(60)
    while changes.load(ordering: .relaxed) == 0 && ContinuousClock.now < deadline {
      try await Task.sleep(for: .milliseconds(10))
    }
    try await Task.sleep(for: .milliseconds(100))
    #expect(changes.load(ordering: .relaxed) == 1, "one change, reported once")
  }
}
