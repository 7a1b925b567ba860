//===----------------------------------------------------------------------===//
// End-to-end harness: a real Prometheus (Debian's) scraping Augmenter's /metrics on loopback.
//===----------------------------------------------------------------------===//

import Foundation
import TestSupport

/// A Prometheus server started for one test: its own configuration and TSDB in the test's
/// directory, listening on a free loopback port, scraping `targets` every second.
struct PrometheusProcess: Sendable {
  let port: Int
  let process: ChildProcess

  /// Starts Prometheus scraping `127.0.0.1:<port>/metrics` for each of `targets` every second,
  /// and waits until it is ready.
  static func start(scope: TestScope, targets: [Int], name: String = "prometheus") async throws -> PrometheusProcess {
    try await PortInUse.retrying(name) { name in
      let port = try FreePort.next()
      let config = """
        global:
          scrape_interval: 1s
          scrape_timeout: 1s
        scrape_configs:
          - job_name: augmenter
            static_configs:
              - targets: [\(targets.map { "\"127.0.0.1:\($0)\"" }.joined(separator: ", "))]

        """
      let configURL = scope.file("\(name).yml")
      try config.write(to: configURL, atomically: true, encoding: .utf8)
      let storage = scope.file("\(name)-tsdb")
      try FileManager.default.createDirectory(at: storage, withIntermediateDirectories: true)
      let process = try ChildProcess.spawn(
        name: name, executable: try TestEnvironment.prometheusBinary(),
        arguments: [
          "--config.file=\(configURL.path)", "--storage.tsdb.path=\(storage.path)",
          "--web.listen-address=127.0.0.1:\(port)", "--log.level=info",
        ],
        scope: scope)
      let prometheus = PrometheusProcess(port: port, process: process)
      try await eventually("\(name) /-/ready to answer 200", timeout: .seconds(30)) {
        if let status = process.pollExit() {
          if PortInUse.appears(in: process.log()) { throw PortInUse(description: "\(name) \(status): address in use") }
          throw TestFailure("\(name) \(status) before it was ready")
        }
        return try? await HTTP1Client.get(port: port, path: "/-/ready").status == 200 ? true : nil
      }
      return prometheus
    }
  }

  /// The instant vector of the PromQL `query`, through `/api/v1/query`: each series' labels and
  /// value.
  func query(_ query: String) async throws -> [(labels: [String: String], value: Double)] {
    var allowed = CharacterSet.urlQueryAllowed
    allowed.remove(charactersIn: "&=+#{}\"")
    let encoded = query.addingPercentEncoding(withAllowedCharacters: allowed) ?? query
    let response = try await HTTP1Client.get(port: port, path: "/api/v1/query?query=\(encoded)")
    guard response.status == 200, let object = response.jsonObject(), object["status"] as? String == "success",
      let data = object["data"] as? [String: Any], let result = data["result"] as? [[String: Any]]
    else {
      throw TestFailure("Prometheus query \(query) failed: \(response.status) \(response.text)")
    }
    return result.compactMap { series in
      guard let labels = series["metric"] as? [String: String], let pair = series["value"] as? [Any],
        pair.count == 2, let text = pair[1] as? String, let value = Double(text)
      else { return nil }
      return (labels, value)
    }
  }

  /// The value of a query that yields at most one series (nil: none).
  func scalar(_ query: String) async throws -> Double? {
    let result = try await self.query(query)
    guard result.count <= 1 else { throw TestFailure("\(query) gave \(result.count) series: \(result)") }
    return result.first?.value
  }

  /// The targets' scrape health (`up`), by instance.
  func targetsUp() async throws -> Bool {
    let up = try await query("up")
    return !up.isEmpty && up.allSatisfy { $0.value == 1 }
  }
}
