//===----------------------------------------------------------------------===//
// End-to-end tests: configuration reload without a restart, under load through Envoy.
//===----------------------------------------------------------------------===//

import Foundation
import NIOHTTP1
import TestSupport
import Testing

extension EndToEnd {
  /// Reload without a restart (issue #13): the file changing (a ConfigMap's symlink swap
  /// included), SIGHUP and `POST /reload`; atomic, connection-keeping, failing closed on an
  /// invalid file.
  @Suite("Reload")
  struct Reload {
    static let alphaSecret = "alpha-secret-7f3a61"
    static let betaSecret = "beta-secret-91c2e4"

    /// Version `version` of the configuration: its number in a static header; provider `alpha`
    /// always (ttl 1h: one fetch for the whole test unless a reload restarts it); provider `beta`
    /// in odd versions only (added and removed ten times); a rate-limit rule that never changes
    /// (its buckets are kept) and a deny rule whose path changes with every version.
    static func yaml(
      version: Int, checkPort: Int, adminPort: Int, alphaURL: String, betaURL: String, invalid: Bool = false
    ) -> String {
      var lines = [
        "# reload test, version \(version)",
        "listen: 127.0.0.1:\(checkPort)",
        "admin_listen: 127.0.0.1:\(adminPort)",
        "log_level: info",
        "headers: {x-config-version: \"\(version)\"}",
        "providers:",
        "  - {name: alpha, url: \"\(alphaURL)\", ttl: 1h, timeout: 2s}",
      ]
      if version % 2 == 1 {
        lines.append("  - {name: beta, url: \"\(betaURL)\", ttl: 1h, timeout: 2s}")
      }
      lines += [
        "rules:",
        "  - name: steady",
        "    match: {path_prefix: /load/}",
        "    rate_limit: {requests_per_second: 100000, burst: 100000}",
        "  - name: blocked",
        "    match: {path_prefix: /blocked-\(version)/}",
        "    deny: {status: 403}",
      ]
      if invalid {
        // Two problems, each with its key path; the rest of the file is version `version`.
        lines += ["on_unavailable: sometimes", "drain_delay: soon"]
      }
      return lines.joined(separator: "\n") + "\n"
    }

    /// The version an upstream request carries, if its headers are exactly one version's.
    static func version(of request: ReceivedRequest) -> Int? {
      guard let text = request.values("x-config-version").first, let version = Int(text),
        request.values("x-config-version").count == 1,
        request.values("x-alpha") == [alphaSecret],
        request.values("x-beta") == (version % 2 == 1 ? [betaSecret] : [])
      else { return nil }
      return version
    }

    static func reloadResult(_ response: HTTPResponse) -> [String: Any] {
      response.jsonObject() ?? [:]
    }

    /// The value of the unlabelled series `name` in a `/metrics` exposition.
    static func metric(_ name: String, in exposition: String) -> Double? {
      exposition.split(separator: "\n").first { $0.hasPrefix(name + " ") }
        .flatMap { Double($0.dropFirst(name.count + 1)) }
    }

    @Test(
      "20 reloads of headers, rules and providers plus an invalid file under h2load through Envoy: no failed request, every response from a configuration in force, Envoy's connection kept"
    )
    func reloadsUnderLoad() async throws {
      try await withTestScope { scope in
        let alpha = try await TestProvider.start(scope: scope, answer: .headers(["x-alpha": Self.alphaSecret]))
        let beta = try await TestProvider.start(scope: scope, answer: .headers(["x-beta": Self.betaSecret]))
        let upstream = try await EchoUpstream.start(scope: scope)
        let started = Date()
        let augmenter = try await AugmenterProcess.start(scope: scope) {
          Self.yaml(version: 0, checkPort: $0, adminPort: $1, alphaURL: alpha.url, betaURL: beta.url)
        }
        try await augmenter.waitUntilReady()
        let file = scope.file("augmenter.yaml")
        let envoy = try await EnvoyProcess.start(
          scope: scope, configFile: "ext-authz-grpc.yaml", augmenterPort: augmenter.checkPort, upstreamPort: upstream.port)
        // Envoy's connection to Augmenter exists before the load and the reloads begin.
        let warm = try await envoy.send(path: "/load/warm")
        #expect(warm.status == 200, "\(warm)")
        let statsFilter = "^cluster\\.augmenter\\.upstream_cx_(total|destroy)$"
        let before = try await EnvoyStats.fetch(adminPort: envoy.adminPort, filter: statsFilter)

        // Each version may be in force from when its file is written until the next version's
        // reload has answered (the file watcher may apply a file before its POST does).
        var written: [Date] = [started]
        var applied: [Date] = [started]
        let load = Task {
          try await H2Load.steady(
            url: "http://127.0.0.1:\(envoy.listenerPort)/load/x", clients: 4, rps: 60, duration: .seconds(14),
            scope: scope)
        }
        try await Task.sleep(for: .seconds(1))
        for version in 1...20 {
          written.append(Date())
          try Self.yaml(
            version: version, checkPort: augmenter.checkPort, adminPort: augmenter.adminPort, alphaURL: alpha.url,
            betaURL: beta.url
          ).write(to: file, atomically: true, encoding: .utf8)
          let response = try await HTTP1Client.request(port: augmenter.adminPort, method: .POST, path: "/reload")
          applied.append(Date())
          let result = Self.reloadResult(response)
          #expect(response.status == 200, "reload \(version): \(response)")
          #expect(result["ok"] as? Bool == true, "reload \(version): \(response.text)")
          #expect(result["providers_kept"] as? [String] == ["alpha"], "reload \(version): \(response.text)")
          #expect(result["rate_limit_rules_kept"] as? [String] == ["steady"], "reload \(version): \(response.text)")
          #expect(result["restart_required"] as? [String] == [], "reload \(version): \(response.text)")
          try await Task.sleep(for: .milliseconds(400))
        }
        // An invalid file: refused with every problem and its key path; version 20 stays.
        try Self.yaml(
          version: 21, checkPort: augmenter.checkPort, adminPort: augmenter.adminPort, alphaURL: alpha.url,
          betaURL: beta.url, invalid: true
        ).write(to: file, atomically: true, encoding: .utf8)
        let refused = try await HTTP1Client.request(port: augmenter.adminPort, method: .POST, path: "/reload")
        #expect(refused.status == 422, "\(refused)")
        let problems = (Self.reloadResult(refused)["problems"] as? [[String: Any]])?.compactMap { $0["key_path"] as? String }
        #expect(Set(problems ?? []) == ["on_unavailable", "drain_delay"], "\(refused.text)")

        let run = try await load.value
        let summary = try run.summary()
        #expect(run.exit == .exited(0), "\(run.output)")
        #expect(summary.done > 1000, "\(summary)")
        #expect(summary.failed == 0 && summary.errored == 0 && summary.timeout == 0, "\(summary)")
        #expect(summary.status2xx == summary.done, "every request allowed: \(summary)")

        // Every request the upstream received carries exactly one version's headers, of a
        // version that could be in force when Envoy asked (up to 1.5 s before it arrived).
        let received = upstream.requests.filter { $0.uri.hasPrefix("/load/x") }
        // h2load stops counting at its deadline: a request started just before may be received
        // (and checked below) without being counted as done.
        #expect(
          received.count >= summary.done && received.count <= summary.started,
          "\(received.count) received for \(summary.done) done, \(summary.started) started")
        var mixed = 0
        var outOfWindow = 0
        var seen: Set<Int> = []
        for request in received {
          guard let version = Self.version(of: request) else {
            mixed += 1
            if mixed <= 3 { Issue.record("headers of no single version: \(request)") }
            continue
          }
          seen.insert(version)
          let from = written[version].addingTimeInterval(-0.05)
          // 1.5 s for Envoy to forward a decided request under load on two shared cores.
          let until = version < 20 ? applied[version + 1].addingTimeInterval(1.5) : .distantFuture
          if request.receivedAt < from || request.receivedAt > until {
            outOfWindow += 1
            if outOfWindow <= 3 { Issue.record("version \(version) at \(request.receivedAt), in force \(from)…\(until)") }
          }
        }
        #expect(mixed == 0)
        #expect(outOfWindow == 0)
        #expect(seen.count >= 10, "versions seen under load: \(seen.sorted())")

        // The invalid file changed nothing: version 20's headers are still served.
        let after = try await envoy.send(path: "/load/after")
        let last = try #require(upstream.request(uri: "/load/after"))
        #expect(after.status == 200)
        #expect(Self.version(of: last) == 20, "\(last)")

        // Envoy kept its one connection to Augmenter through every reload.
        let stats = try await EnvoyStats.fetch(adminPort: envoy.adminPort, filter: statsFilter)
        #expect(stats["cluster.augmenter.upstream_cx_total"] == before["cluster.augmenter.upstream_cx_total"], "\(before) → \(stats)")
        #expect(stats["cluster.augmenter.upstream_cx_destroy"] == 0, "\(stats)")

        // alpha was fetched once: never restarted. beta was started by each odd version.
        #expect(alpha.requestCount == 1, "alpha fetched \(alpha.requestCount) times")
        #expect(beta.requestCount >= 10, "beta fetched \(beta.requestCount) times")

        // The failure is in /status, the metrics and the log; no secret anywhere.
        let status = try await augmenter.admin("/status")
        let lastReload = (status.jsonObject()?["config"] as? [String: Any])?["last_reload"] as? [String: Any]
        #expect(lastReload?["ok"] as? Bool == false, "\(status.text)")
        let metrics = try await augmenter.admin("/metrics")
        #expect(Self.metric("augmenter_config_last_reload_successful", in: metrics.text) == 0, "\(metrics.text)")
        let timestamp = Self.metric("augmenter_config_last_reload_success_timestamp_seconds", in: metrics.text)
        #expect((timestamp ?? 0) >= written[20].timeIntervalSince1970 - 1, "the last successful reload's time")
        let log = augmenter.process.log()
        #expect(log.contains("configuration reload failed"))
        #expect(log.contains("key_path=on_unavailable") && log.contains("key_path=drain_delay"))
        for secret in [Self.alphaSecret, Self.betaSecret] {
          for (what, text) in [("log", log), ("/status", status.text), ("/metrics", metrics.text), ("reload answer", refused.text)] {
            #expect(!text.contains(secret), "a provider header value is in \(what)")
          }
        }
        #expect(augmenter.process.isRunning)
      }
    }

    @Test("a ConfigMap's ..data symlink swap, SIGHUP and POST /reload each reload; an invalid file keeps the old headers")
    func triggers() async throws {
      try await withTestScope { scope in
        let alpha = try await TestProvider.start(scope: scope, answer: .headers(["x-alpha": Self.alphaSecret]))
        let beta = try await TestProvider.start(scope: scope, answer: .headers(["x-beta": Self.betaSecret]))
        let upstream = try await EchoUpstream.start(scope: scope)
        // The layout the kubelet gives a ConfigMap volume: the file is a symlink through `..data`,
        // itself a symlink to a timestamped directory that each update replaces.
        let volume = scope.file("configmap")
        let manager = FileManager.default
        func writeVersion(_ directory: String, _ yaml: String) throws {
          try manager.createDirectory(at: volume.appendingPathComponent(directory), withIntermediateDirectories: true)
          try yaml.write(to: volume.appendingPathComponent("\(directory)/augmenter.yaml"), atomically: true, encoding: .utf8)
        }
        /// The kubelet's atomic swap: a new symlink renamed over `..data`.
        func swapData(to directory: String) throws {
          let temporary = volume.appendingPathComponent("..data_tmp").path
          try manager.createSymbolicLink(atPath: temporary, withDestinationPath: directory)
          guard rename(temporary, volume.appendingPathComponent("..data").path) == 0 else {
            throw TestFailure("rename ..data_tmp over ..data failed: errno \(errno)")
          }
        }
        var ports = (check: 0, admin: 0)
        let augmenter = try await AugmenterProcess.start(
          scope: scope,
          place: { yaml in
            try writeVersion("..2026_12_07_01", yaml)
            try manager.createSymbolicLink(
              atPath: volume.appendingPathComponent("..data").path, withDestinationPath: "..2026_12_07_01")
            let path = volume.appendingPathComponent("augmenter.yaml").path
            try manager.createSymbolicLink(atPath: path, withDestinationPath: "..data/augmenter.yaml")
            return path
          },
          yaml: { check, admin in
            ports = (check, admin)
            return Self.yaml(version: 0, checkPort: check, adminPort: admin, alphaURL: alpha.url, betaURL: beta.url)
          })
        try await augmenter.waitUntilReady()
        let envoy = try await EnvoyProcess.start(
          scope: scope, configFile: "ext-authz-grpc.yaml", augmenterPort: augmenter.checkPort, upstreamPort: upstream.port)
        func version(_ yaml: Int, invalid: Bool = false) -> String {
          Self.yaml(
            version: yaml, checkPort: ports.check, adminPort: ports.admin, alphaURL: alpha.url, betaURL: beta.url,
            invalid: invalid)
        }
        func lastReload() async throws -> [String: Any] {
          let status = try await augmenter.admin("/status")
          return ((status.jsonObject()?["config"] as? [String: Any])?["last_reload"] as? [String: Any]) ?? [:]
        }
        let stack = Stack(provider: alpha, upstream: upstream, augmenter: augmenter, envoy: envoy)
        try await stack.waitForUpstream("version 0") { Self.version(of: $0) == 0 }
        #expect(try await lastReload().isEmpty, "no reload yet")

        // 1. The ConfigMap update: only the ..data symlink changes.
        try writeVersion("..2026_12_07_02", version(1))
        try swapData(to: "..2026_12_07_02")
        try await stack.waitForUpstream("version 1 after the ..data swap") { Self.version(of: $0) == 1 }
        var last = try await lastReload()
        #expect(last["trigger"] as? String == "file" && last["ok"] as? Bool == true, "\(last)")
        #expect(last["providers_started"] as? [String] == ["beta"], "\(last)")

        // 2. SIGHUP, with the file unchanged: one reload, the process keeps running.
        let beforeSignal = last["time"] as? String
        #expect(kill(augmenter.process.pid, SIGHUP) == 0)
        last = try await eventually("a reload by SIGHUP in /status", timeout: .seconds(10)) {
          let last = try await lastReload()
          return last["trigger"] as? String == "sighup" ? last : nil
        }
        #expect(last["ok"] as? Bool == true && last["time"] as? String != nil, "\(last), before: \(beforeSignal ?? "-")")
        #expect(last["providers_kept"] as? [String] == ["alpha", "beta"], "nothing changed: \(last)")
        #expect(augmenter.process.isRunning, "SIGHUP reloads; it does not stop the process")

        // 3. POST /reload answers with the result; GET is refused.
        let get = try await augmenter.admin("/reload")
        #expect(get.status == 405, "\(get)")
        let post = try await HTTP1Client.request(port: augmenter.adminPort, method: .POST, path: "/reload")
        #expect(post.status == 200, "\(post)")
        #expect(post.jsonObject()?["trigger"] as? String == "post_reload", "\(post.text)")
        #expect(try await lastReload()["trigger"] as? String == "post_reload")

        // 4. An invalid version, swapped in like any other: refused, the old headers stay.
        try writeVersion("..2026_12_07_03", version(2, invalid: true))
        try swapData(to: "..2026_12_07_03")
        last = try await eventually("the invalid file's reload in /status", timeout: .seconds(10)) {
          let last = try await lastReload()
          return last["trigger"] as? String == "file" && last["ok"] as? Bool == false ? last : nil
        }
        let paths = (last["problems"] as? [[String: Any]])?.compactMap { $0["key_path"] as? String } ?? []
        #expect(Set(paths) == ["on_unavailable", "drain_delay"], "\(last)")
        let (response, received) = try await stack.send(label: "after-invalid")
        #expect(response.status == 200)
        #expect(received.flatMap(Self.version(of:)) == 1, "version 1 stays in force: \(received.map { "\($0)" } ?? "-")")
        let metrics = try await augmenter.admin("/metrics")
        #expect(Self.metric("augmenter_config_last_reload_successful", in: metrics.text) == 0, "\(metrics.text)")
        #expect(augmenter.process.log().contains("key_path=drain_delay"))
      }
    }
  }
}
