//===----------------------------------------------------------------------===//
// Deployment tests: monitoring (k8s/components/monitoring): ServiceMonitor, alerts, dashboard.
//===----------------------------------------------------------------------===//

import Foundation
import TestSupport
import Testing

/// Issue 13, item 6: the prometheus-operator objects kubernetes-validate has no schema for are
/// checked here field by field; the alerts pass `promtool check rules` and their own
/// `promtool test rules`; every metric the alerts and the dashboard name is one a running
/// `augmenter serve` exports, with the labels it has.
@Suite("Monitoring (k8s/components/monitoring)")
struct MonitoringManifestTests {
  static let overlay = "k8s/overlays/monitoring"
  static let component = "k8s/components/monitoring"
  /// Labels Prometheus adds to every series it scrapes through a ServiceMonitor.
  static let targetLabels: Set = ["namespace", "pod", "service", "endpoint", "job", "instance", "container"]
  /// The keys each object may have; they have no schema to catch a misspelt one (prometheus-operator's CRDs).
  static let serviceMonitorSpecKeys: Set = [
    "selector", "endpoints", "namespaceSelector", "jobLabel", "targetLabels", "podTargetLabels", "sampleLimit",
  ]
  static let endpointKeys: Set = [
    "port", "path", "scheme", "interval", "scrapeTimeout", "tlsConfig", "honorLabels", "relabelings",
    "metricRelabelings",
  ]
  static let groupKeys: Set = ["name", "interval", "rules", "limit"]
  static let ruleKeys: Set = ["alert", "expr", "for", "keep_firing_for", "labels", "annotations"]

  @Test("ServiceMonitor: selects the Service and scrapes /metrics on its admin port, in its namespace")
  func serviceMonitor() async throws {
    let rendering = try await Kustomize.shared.render(Self.overlay)
    let service = try rendering.one("Service", named: "augmenter")
    let monitor = try rendering.one("ServiceMonitor")
    #expect(monitor.apiVersion == "monitoring.coreos.com/v1")
    let spec = try #require(monitor.spec?.object, "ServiceMonitor has a spec")
    #expect(Set(spec.keys).isSubset(of: Self.serviceMonitorSpecKeys), "unknown ServiceMonitor keys: \(spec.keys.sorted())")

    let serviceLabels = try #require(service.json[path: "metadata.labels"]?.stringMap)
    #expect(
      KubernetesManifestTests.selects(monitor.spec?[path: "selector.matchLabels"]?.stringMap, serviceLabels),
      "the ServiceMonitor's selector must match the Service's labels \(serviceLabels)")
    let namespaces = monitor.spec?[path: "namespaceSelector.matchNames"]?.strings ?? [monitor.namespace ?? ""]
    #expect(namespaces.contains(service.namespace ?? "default"), "the ServiceMonitor looks for Services in \(namespaces)")

    let endpoints = monitor.spec?["endpoints"]?.array ?? []
    #expect(!endpoints.isEmpty)
    let ports = service.spec?["ports"]?.array ?? []
    for endpoint in endpoints {
      #expect(
        Set((endpoint.object ?? [:]).keys).isSubset(of: Self.endpointKeys), "unknown endpoint keys: \(endpoint)")
      let port = try #require(
        ports.first { $0["name"]?.string != nil && $0["name"] == endpoint["port"] },
        "endpoint port \(endpoint["port"]?.string ?? "none") is not a Service port name")
      #expect(port["port"]?.int == 9901, "/metrics is on the admin port")
      #expect(endpoint["path"]?.string == "/metrics")
      #expect((endpoint["scheme"]?.string ?? "http") == port["appProtocol"]?.string, "scheme matches the port's appProtocol")
      let interval = try #require(endpoint["interval"]?.string.flatMap(durationSeconds), "interval: \(endpoint)")
      let timeout = endpoint["scrapeTimeout"]?.string.flatMap(durationSeconds) ?? 10
      #expect(interval >= 5 && interval <= 60, "interval \(interval)s")
      #expect(timeout <= interval, "scrapeTimeout must not exceed interval")
    }
  }

  @Test("PrometheusRule: every alert has for, severity, summary and description with bounded labels only")
  func ruleStructure() async throws {
    let rendering = try await Kustomize.shared.render(Self.overlay)
    let rule = try rendering.one("PrometheusRule")
    #expect(rule.apiVersion == "monitoring.coreos.com/v1")
    let service = try rendering.one("Service", named: "augmenter")
    #expect(rule.namespace == service.namespace, "the rules live next to the Service")
    #expect(rule.spec?.object.map { Array($0.keys) } == ["groups"])
    let alerts = try Self.alerts(rule)
    #expect(alerts.count >= 5)
    let exported = try await Self.exported()
    for alert in alerts {
      let name = alert["alert"]?.string ?? ""
      #expect(name.hasPrefix("Augmenter"), "\(alert)")
      #expect(Set((alert.object ?? [:]).keys).isSubset(of: Self.ruleKeys), "\(name): unknown keys")
      #expect(alert["for"]?.string.flatMap(durationSeconds).map { $0 > 0 } == true, "\(name): a for: duration")
      #expect(["critical", "warning"].contains(alert[path: "labels.severity"]?.string ?? ""), "\(name): severity")
      let expression = try #require(alert["expr"]?.string)
      let allowed = PromQL.parse(expression).resultLabels(exported: exported)
      for key in ["summary", "description"] {
        let text = try #require(alert[path: "annotations.\(key)"]?.string, "\(name): annotations.\(key)")
        for label in Self.templatedLabels(text) {
          #expect(
            allowed.contains(label), "\(name) \(key) templates $labels.\(label), which its result does not carry: \(allowed.sorted())")
        }
        #expect(!text.contains("{{ $labels }}") && !text.contains(".Labels"), "\(name): template single labels only")
      }
    }
    // The five conditions of issue 13: each watched by an alert on its metric.
    let expressions = alerts.compactMap { $0["expr"]?.string }
    for needle in [
      "augmenter_provider_usable == 0", "augmenter_provider_headers_expiry_timestamp_seconds",
      "augmenter_provider_consecutive_failures", #"outcome=~"error|unavailable""#, #"outcome=~"deny|rate_limited""#,
      "augmenter_config_last_reload_successful == 0",
    ] {
      #expect(expressions.contains { $0.contains(needle) }, "no alert watches \(needle)")
    }
  }

  @Test("promtool check rules accepts the PrometheusRule's groups, and promtool test rules fires each alert")
  func promtool() async throws {
    let rendering = try await Kustomize.shared.render(Self.overlay)
    let rule = try rendering.one("PrometheusRule")
    let promtool = try Executable.locate(
      variable: "PROMTOOL_BIN", fallback: "/usr/bin/promtool",
      hint: "install Debian's prometheus package (scripts/test does)")
    let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("promtool-\(UUID().uuidString.prefix(8))")
    try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: scratch) }
    // JSON is YAML: the spec is exactly a Prometheus rule file ({groups: [...]}). YAML has no `\/`
    // escape, which JSONEncoder writes by default.
    let rules = scratch.appendingPathComponent("rules.yaml")
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.withoutEscapingSlashes, .sortedKeys]
    try encoder.encode(try #require(rule.spec)).write(to: rules)
    let tests = scratch.appendingPathComponent("alerts-test.yaml")
    let testText = try Repository.text("\(Self.component)/alerts-test.yaml")
    try testText.write(to: tests, atomically: true, encoding: .utf8)

    let check = try await Command.run(promtool, ["check", "rules", rules.path], mergingStandardError: true)
    #expect(check.succeeded, "\(check)")
    let alerts = try Self.alerts(rule)
    #expect(check.stdout.contains("SUCCESS: \(alerts.count) rules found"), "\(check)")

    let unit = try await Command.run(promtool, ["test", "rules", tests.path], directory: scratch, mergingStandardError: true)
    #expect(unit.succeeded, "promtool test rules: \(unit)")
    #expect(unit.stdout.contains("SUCCESS"), "\(unit)")

    // Every alert has a case in which it fires.
    let test = try await YAML.document(testText)
    var firing: Set<String> = []
    for testCase in test["tests"]?.array ?? [] {
      for expectation in testCase["alert_rule_test"]?.array ?? [] where !(expectation["exp_alerts"]?.array ?? []).isEmpty {
        if let name = expectation["alertname"]?.string { firing.insert(name) }
      }
    }
    #expect(Set(alerts.compactMap { $0["alert"]?.string }) == firing, "alerts-test.yaml must make every alert fire")
  }

  @Test("dashboard.json parses, its ConfigMap carries it for Grafana's sidecar, and its panels are sound")
  func dashboard() async throws {
    let rendering = try await Kustomize.shared.render(Self.overlay)
    let dashboard = try JSON.parse(try Repository.text("\(Self.component)/dashboard.json"))
    let configMap = try rendering.one("ConfigMap", named: "augmenter-dashboard")
    #expect(configMap.json[path: "metadata.labels"]?["grafana_dashboard"]?.string == "1")
    let shipped = try #require(configMap.json[path: "data"]?["augmenter.json"]?.string, "the ConfigMap holds augmenter.json")
    #expect(try JSON.parse(shipped) == dashboard, "the ConfigMap holds dashboard.json as it is")

    #expect(dashboard["uid"]?.string?.isEmpty == false && dashboard["title"]?.string?.isEmpty == false)
    let variables = Set((dashboard[path: "templating.list"]?.array ?? []).compactMap { $0["name"]?.string })
    #expect(variables.contains("datasource"), "a datasource variable, so the dashboard works with any Prometheus")
    let panels = Self.panels(dashboard).filter { $0["type"]?.string != "row" }
    #expect(panels.count >= 10)
    let ids = Self.panels(dashboard).compactMap { $0["id"]?.int }
    #expect(Set(ids).count == Self.panels(dashboard).count, "every panel has a unique id")
    for panel in panels {
      let title = panel["title"]?.string ?? ""
      #expect(!title.isEmpty)
      let x = panel[path: "gridPos.x"]?.int ?? -1
      let width = panel[path: "gridPos.w"]?.int ?? 0
      #expect(x >= 0 && width > 0 && x + width <= 24 && (panel[path: "gridPos.h"]?.int ?? 0) > 0, "\(title): gridPos")
      let targets = panel["targets"]?.array ?? []
      #expect(!targets.isEmpty, "\(title) has no query")
      for target in targets {
        #expect(target[path: "datasource.uid"]?.string == "${datasource}", "\(title): use the datasource variable")
        let expression = target["expr"]?.string ?? ""
        #expect(!expression.isEmpty, "\(title): an empty query")
        for variable in Self.variables(expression) where !variable.hasPrefix("__") {
          #expect(variables.contains(variable), "\(title) uses $\(variable), which the dashboard does not define")
        }
      }
    }
    // What an operator looks at first: checks by outcome, latency quantiles, provider health,
    // connections, rate-limit keys, reloads.
    let expressions = Self.dashboardExpressions(dashboard)
    for needle in [
      "sum by (outcome) (rate(augmenter_checks_total",
      "histogram_quantile(0.99, sum by (le, front) (rate(augmenter_check_duration_seconds_bucket",
      "augmenter_provider_usable", "augmenter_provider_headers_expiry_timestamp_seconds", "augmenter_provider_fetches_total",
      "augmenter_connections_open", "augmenter_rate_limit_keys", "augmenter_config_last_reload_successful",
    ] {
      #expect(expressions.contains { $0.contains(needle) }, "no panel queries \(needle)")
    }
  }

  @Test("the alerts and the dashboard name only metrics and labels a running augmenter exports; the dashboard shows every one")
  func metricsExist() async throws {
    let exported = try await Self.exported()
    #expect(exported.count >= 10, "\(exported.keys.sorted())")
    let rendering = try await Kustomize.shared.render(Self.overlay)
    let alertExpressions = try Self.alerts(try rendering.one("PrometheusRule")).map {
      ($0["alert"]?.string ?? "", $0["expr"]?.string ?? "")
    }
    let dashboard = try JSON.parse(try Repository.text("\(Self.component)/dashboard.json"))
    let dashboardExpressions = Self.dashboardExpressions(dashboard).map { ("dashboard", $0) }

    var shown: Set<String> = []
    for (source, expression) in alertExpressions + dashboardExpressions {
      let parsed = PromQL.parse(expression)
      #expect(!parsed.selectors.isEmpty, "\(source): no metric in \(expression)")
      var labelsInScope = Self.targetLabels
      for selector in parsed.selectors {
        guard let metric = exported.metric(for: selector.name) else {
          Issue.record("\(source): \(selector.name) is not exported by augmenter (\(exported.keys.sorted()))")
          continue
        }
        if source == "dashboard" { shown.insert(metric.name) }
        labelsInScope.formUnion(metric.labels(of: selector.name))
        for label in selector.labels {
          #expect(
            metric.labels(of: selector.name).contains(label) || Self.targetLabels.contains(label),
            "\(source): \(selector.name) has no label \(label)")
        }
      }
      for label in parsed.grouping {
        #expect(labelsInScope.contains(label), "\(source): groups by \(label), which none of its metrics has: \(expression)")
      }
    }
    #expect(
      Set(exported.keys).subtracting(shown).isEmpty,
      "exported metrics no dashboard panel shows: \(Set(exported.keys).subtracting(shown).sorted())")
  }

  @Test("a real Prometheus loads the rules and, scraping augmenter with an unreachable provider, raises its provider alerts")
  func prometheusEvaluatesTheRules() async throws {
    let rendering = try await Kustomize.shared.render(Self.overlay)
    let rule = try rendering.one("PrometheusRule")
    let prometheusBinary = try Executable.locate(
      variable: "PROMETHEUS_BIN", fallback: "/usr/bin/prometheus",
      hint: "install Debian's prometheus package (scripts/test does)")
    let scratch = try Self.scratchDirectory("prometheus-rules")
    defer { try? FileManager.default.removeItem(at: scratch) }
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.withoutEscapingSlashes, .sortedKeys]
    try encoder.encode(try #require(rule.spec)).write(to: scratch.appendingPathComponent("rules.yaml"))

    let (server, adminPort) = try await Self.serve(in: scratch)
    defer { server.kill() }
    // The target labels stand in for those the ServiceMonitor's scrape adds; rules evaluate every second.
    let port = try FreePort.next()
    try """
    global: {scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s}
    rule_files: [rules.yaml]
    scrape_configs:
      - job_name: augmenter
        static_configs:
          - targets: ["127.0.0.1:\(adminPort)"]
            labels: {namespace: augmenter, pod: augmenter-test}
    """.write(to: scratch.appendingPathComponent("prometheus.yml"), atomically: true, encoding: .utf8)
    let storage = scratch.appendingPathComponent("tsdb")
    try FileManager.default.createDirectory(at: storage, withIntermediateDirectories: true)
    let prometheus = try ChildProcess.spawn(
      name: "prometheus", executable: prometheusBinary,
      arguments: [
        "--config.file=\(scratch.appendingPathComponent("prometheus.yml").path)", "--storage.tsdb.path=\(storage.path)",
        "--web.listen-address=127.0.0.1:\(port)",
      ],
      logURL: scratch.appendingPathComponent("prometheus.log"))
    defer { prometheus.kill() }

    // Both alerts go pending (their `for:` is minutes) with the provider's label and rendered annotations.
    let curl = try Self.curl()
    let expected: Set = ["AugmenterProviderUnusable", "AugmenterProviderFetchesFailing"]
    let alerts = try await eventually("Prometheus has \(expected.sorted()) pending", timeout: .seconds(60), retryingErrors: false) {
      () -> [JSON]? in
      if !prometheus.isRunning { throw TestFailure("prometheus exited: \(prometheus.log())") }
      let result = try await Command.run(curl, ["-sf", "--max-time", "2", "http://127.0.0.1:\(port)/api/v1/alerts"])
      guard result.succeeded, let alerts = try? JSON.parse(result.stdout)[path: "data.alerts"]?.array else { return nil }
      let names = Set(alerts.compactMap { $0[path: "labels.alertname"]?.string })
      return expected.isSubset(of: names) ? alerts : nil
    }
    for alert in alerts where expected.contains(alert[path: "labels.alertname"]?.string ?? "") {
      #expect(alert[path: "labels.provider"]?.string == "idp", "\(alert)")
      #expect(["pending", "firing"].contains(alert["state"]?.string ?? ""), "\(alert)")
      let description = alert[path: "annotations.description"]?.string ?? ""
      #expect(description.contains("augmenter/augmenter-test") && description.contains("provider idp"), "\(description)")
    }
    let rules = try await Command.run(curl, ["-sf", "--max-time", "2", "http://127.0.0.1:\(port)/api/v1/rules"])
    let loaded = (try? JSON.parse(rules.stdout)[path: "data.groups"]?.array ?? []) ?? []
    let health = loaded.flatMap { $0["rules"]?.array ?? [] }.map { $0["health"]?.string ?? "" }
    #expect(health.count == (try Self.alerts(rule)).count && health.allSatisfy { $0 == "ok" }, "rule health: \(rules.stdout)")
  }

  // MARK: - Helpers

  static func alerts(_ rule: KubeObject) throws -> [JSON] {
    let groups = try #require(rule.spec?["groups"]?.array, "spec.groups")
    for group in groups {
      #expect(Set((group.object ?? [:]).keys).isSubset(of: groupKeys), "unknown group keys: \(group)")
    }
    return groups.flatMap { $0["rules"]?.array ?? [] }
  }

  /// Every panel, those inside rows included.
  static func panels(_ dashboard: JSON) -> [JSON] {
    (dashboard["panels"]?.array ?? []).flatMap { [$0] + ($0["panels"]?.array ?? []) }
  }

  /// The PromQL of every panel target and of every query variable (`label_values(SELECTOR, label)`).
  static func dashboardExpressions(_ dashboard: JSON) -> [String] {
    var expressions = panels(dashboard).flatMap { ($0["targets"]?.array ?? []).compactMap { $0["expr"]?.string } }
    for variable in dashboard[path: "templating.list"]?.array ?? [] {
      guard let query = variable[path: "query.query"]?.string ?? variable["query"]?.string,
        query.hasPrefix("label_values("), let comma = query.lastIndex(of: ",")
      else { continue }
      expressions.append(String(query[query.index(query.startIndex, offsetBy: 13)..<comma]))
    }
    return expressions
  }

  /// The `$labels.NAME` an alert template uses.
  static func templatedLabels(_ text: String) -> [String] {
    text.split(separator: "$labels.").dropFirst().map { rest in String(rest.prefix { $0.isLetter || $0.isNumber || $0 == "_" }) }
  }

  /// The Grafana variables (`$name`, `${name}`) in a query.
  static func variables(_ text: String) -> [String] {
    text.split(separator: "$", omittingEmptySubsequences: false).dropFirst().map { rest in
      String(rest.drop { $0 == "{" }.prefix { $0.isLetter || $0.isNumber || $0 == "_" })
    }
  }

  /// The `/metrics` of `augmenter serve` with a provider (whose fetches fail: nothing listens)
  /// and a rate-limit rule, so that every family has series; read once per test run.
  static func exported() async throws -> ExportedMetrics { try await exposition.value }

  private static let exposition = Task { try await scrape() }

  private static func scrape() async throws -> ExportedMetrics {
    let scratch = try scratchDirectory("metrics")
    defer { try? FileManager.default.removeItem(at: scratch) }
    let (server, adminPort) = try await serve(in: scratch)
    defer { server.kill() }
    let result = try await Command.run(try curl(), ["-sf", "--max-time", "5", "http://127.0.0.1:\(adminPort)/metrics"])
    guard result.succeeded else { throw TestFailure("GET /metrics: \(result)") }
    return ExportedMetrics(exposition: result.stdout)
  }

  /// `augmenter serve` with a provider nothing answers for (so its fetches fail and its headers
  /// are unusable) and a rate-limit rule, so that every metric family has series; returns once
  /// /metrics answers.
  static func serve(in scratch: URL) async throws -> (server: ChildProcess, adminPort: Int) {
    let ports = try FreePort.take(2)
    let config = scratch.appendingPathComponent("config.yaml")
    try """
    listen: 127.0.0.1:\(ports[0])
    admin_listen: 127.0.0.1:\(ports[1])
    providers:
      - name: idp
        url: http://127.0.0.1:1/headers
        ttl: 60s
        timeout: 1s
    rules:
      - name: limited
        match: {path_prefix: /limited/}
        rate_limit: {requests_per_second: 1, burst: 1}
    """.write(to: config, atomically: true, encoding: .utf8)
    let server = try ChildProcess.spawn(
      name: "augmenter", executable: try Tools.augmenter(), arguments: ["serve", "--config", config.path],
      environment: Command.augmenterEnvironment(), logURL: scratch.appendingPathComponent("augmenter.log"))
    do {
      let curl = try curl()
      try await eventually("GET /metrics answers", timeout: .seconds(30), retryingErrors: false) { () -> Void? in
        if !server.isRunning { throw TestFailure("augmenter exited: \(server.log())") }
        let result = try await Command.run(curl, ["-sf", "-o", "/dev/null", "--max-time", "2", "http://127.0.0.1:\(ports[1])/metrics"])
        return result.succeeded ? () : nil
      }
    } catch {
      server.kill()
      throw error
    }
    return (server, ports[1])
  }

  static func curl() throws -> String { try Tools.system("curl", hint: "install Debian's curl (scripts/test does)") }

  static func scratchDirectory(_ prefix: String) throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString.prefix(8))")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
  }
}

/// The metric families of an exposition: name, type, and the label names of their series.
struct ExportedMetrics: Sendable {
  struct Family: Sendable {
    var name: String
    var type: String
    var seriesLabels: Set<String> = []

    /// The labels a sample name of this family carries (`le` on a histogram's buckets).
    func labels(of sample: String) -> Set<String> {
      sample.hasSuffix("_bucket") && type == "histogram" ? seriesLabels.union(["le"]) : seriesLabels
    }
  }

  var families: [String: Family] = [:]
  var keys: Dictionary<String, Family>.Keys { families.keys }
  var count: Int { families.count }

  init(exposition: String) {
    for line in exposition.split(separator: "\n") {
      let words = line.split(separator: " ")
      if words.count == 4, words[0] == "#", words[1] == "TYPE" {
        families[String(words[2])] = Family(name: String(words[2]), type: String(words[3]))
      } else if !line.hasPrefix("#"), let brace = line.firstIndex(of: "{"), let name = metric(for: String(line[..<brace]))?.name {
        let pairs = line[line.index(after: brace)...].prefix { $0 != "}" }
        // Label values are bounded names here (no commas or quotes): split on them.
        for pair in pairs.split(separator: ",") {
          if let equals = pair.firstIndex(of: "=") { families[name]?.seriesLabels.insert(String(pair[..<equals])) }
        }
      }
    }
  }

  /// The family of a sample name: itself, or a histogram's `_bucket`, `_sum` or `_count`.
  func metric(for sample: String) -> Family? {
    if let family = families[sample] { return family }
    for suffix in ["_bucket", "_sum", "_count"] where sample.hasSuffix(suffix) {
      if let family = families[String(sample.dropLast(suffix.count))], family.type == "histogram" { return family }
    }
    return nil
  }
}

/// Just enough PromQL to name what an expression reads: the metric selectors with their matcher
/// label names, and the labels of `by (...)`/`on (...)` clauses. Not a validator: promtool is.
struct PromQL {
  struct Selector: Sendable {
    var name: String
    var labels: [String]
  }

  var selectors: [Selector] = []
  var grouping: [String] = []
  /// The `by (...)` lists of the aggregations, in order.
  var byLists: [[String]] = []

  static let keywords: Set = [
    "and", "or", "unless", "bool", "offset", "inf", "nan",
    // Aggregations may put `by (...)` between their name and their argument.
    "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values", "bottomk", "topk", "quantile",
  ]
  static let groupingKeywords: Set = ["by", "without", "on", "ignoring", "group_left", "group_right"]

  static func parse(_ expression: String) -> PromQL {
    var result = PromQL()
    let characters = Array(expression)
    var index = 0
    func isNameStart(_ c: Character) -> Bool { c.isLetter || c == "_" || c == ":" }
    func isName(_ c: Character) -> Bool { isNameStart(c) || c.isNumber }
    func skipSpaces() { while index < characters.count, characters[index].isWhitespace { index += 1 } }
    func readName() -> String {
      let start = index
      while index < characters.count, isName(characters[index]) { index += 1 }
      return String(characters[start..<index])
    }
    /// The label names of a `(a, b)` list or `{a="x", b=~"y"}` matcher block at `index`.
    func readLabelList(closing: Character) -> [String] {
      var names: [String] = []
      index += 1
      while index < characters.count, characters[index] != closing {
        let c = characters[index]
        if c == "\"" || c == "'" || c == "`" {
          index += 1
          while index < characters.count, characters[index] != c {
            if characters[index] == "\\" { index += 1 }
            index += 1
          }
          index += 1
        } else if isNameStart(c) {
          names.append(readName())
        } else {
          index += 1
        }
      }
      index += 1
      return names
    }

    while index < characters.count {
      let c = characters[index]
      if c == "\"" || c == "'" || c == "`" {
        index += 1
        while index < characters.count, characters[index] != c { index += 1 }
        index += 1
      } else if c == "[" {
        while index < characters.count, characters[index] != "]" { index += 1 }
        index += 1
      } else if c == "{" {
        // A selector without a name ({__name__=...}): not used here; its labels belong to nothing.
        _ = readLabelList(closing: "}")
      } else if c == "$" {
        index += 1
        if index < characters.count, characters[index] == "{" {
          while index < characters.count, characters[index] != "}" { index += 1 }
          index += 1
        } else {
          _ = readName()
        }
      } else if c.isNumber || (c == "." && index + 1 < characters.count && characters[index + 1].isNumber) {
        while index < characters.count, isName(characters[index]) || characters[index] == "." { index += 1 }
      } else if isNameStart(c) {
        let name = readName()
        skipSpaces()
        let next = index < characters.count ? characters[index] : " "
        if groupingKeywords.contains(name) {
          if next == "(" {
            let labels = readLabelList(closing: ")")
            result.grouping += labels
            if name == "by" { result.byLists.append(labels) }
          }
        } else if keywords.contains(name) {
          continue
        } else if next == "(" {
          continue  // a function or an aggregation
        } else if next == "{" {
          result.selectors.append(Selector(name: name, labels: readLabelList(closing: "}")))
        } else {
          result.selectors.append(Selector(name: name, labels: []))
        }
      } else {
        index += 1
      }
    }
    return result
  }

  /// The labels the expression's result carries: those every `by (...)` keeps when it
  /// aggregates, else its metrics' labels and the scrape's.
  func resultLabels(exported: ExportedMetrics) -> Set<String> {
    if let first = byLists.first {
      return byLists.dropFirst().reduce(Set(first)) { $0.intersection($1) }
    }
    var labels = MonitoringManifestTests.targetLabels
    for selector in selectors {
      if let family = exported.metric(for: selector.name) { labels.formUnion(family.labels(of: selector.name)) }
    }
    return labels
  }
}
