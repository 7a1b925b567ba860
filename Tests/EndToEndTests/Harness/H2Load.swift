//===----------------------------------------------------------------------===//
// End-to-end harness: nghttp2's h2load driving gRPC Check calls.
//===----------------------------------------------------------------------===//

import Foundation
import TestSupport
import Testing

/// nghttp2's `h2load` driving gRPC Check calls at Augmenter's check port (h2c or, with an
/// `https://` URL, h2 over TLS), and what it reports.
enum H2Load {
  /// `requests: 100000 total, 100000 started, 100000 done, 100000 succeeded, 0 failed, 0 errored, 0 timeout`
  struct Summary: CustomStringConvertible {
    var total = -1, started = -1, done = -1, succeeded = -1, failed = -1, errored = -1, timeout = -1
    var status2xx = -1

    init(parsing output: String) throws {
      guard let line = output.split(separator: "\n").first(where: { $0.hasPrefix("requests:") }) else {
        throw TestFailure("h2load printed no \"requests:\" summary line")
      }
      for part in line.dropFirst("requests:".count).split(separator: ",") {
        let words = part.split(separator: " ")
        guard words.count == 2, let value = Int(words[0]) else { continue }
        switch words[1] {
        case "total": total = value
        case "started": started = value
        case "done": done = value
        case "succeeded": succeeded = value
        case "failed": failed = value
        case "errored": errored = value
        case "timeout": timeout = value
        default: break
        }
      }
      if let codes = output.split(separator: "\n").first(where: { $0.hasPrefix("status codes:") }),
        let first = codes.split(separator: ":").last?.split(separator: ",").first?.split(separator: " ").first
      {
        status2xx = Int(first) ?? -1
      }
    }

    var description: String {
      "total \(total), started \(started), done \(done), succeeded \(succeeded), failed \(failed), errored \(errored), timeout \(timeout), 2xx \(status2xx)"
    }
  }

  /// One finished h2load run.
  struct Run {
    var exit: ProcessExitStatus?
    var output: String
    var requests: Int

    func summary() throws -> Summary { try Summary(parsing: output) }

    /// Value of an h2load header line such as `TLS Protocol:` or `Application protocol:`.
    func line(_ prefix: String) -> String? {
      output.split(separator: "\n").first { $0.hasPrefix(prefix) }
        .map { $0.dropFirst(prefix.count).trimmingCharacters(in: .whitespaces) }
    }

    /// Every request done and answered 2xx: no failure, error or timeout, exit status 0.
    func expectAllSucceeded(sourceLocation: SourceLocation = #_sourceLocation) throws {
      #expect(
        exit == .exited(0), "h2load \(exit.map { "\($0)" } ?? "did not finish in time"):\n\(output)",
        sourceLocation: sourceLocation)
      let summary = try summary()
      #expect(summary.total == requests, "\(summary)", sourceLocation: sourceLocation)
      #expect(summary.succeeded == requests, "\(summary)", sourceLocation: sourceLocation)
      #expect(summary.done == requests, "\(summary)", sourceLocation: sourceLocation)
      #expect(summary.failed == 0, "\(summary)", sourceLocation: sourceLocation)
      #expect(summary.errored == 0, "\(summary)", sourceLocation: sourceLocation)
      #expect(summary.timeout == 0, "\(summary)", sourceLocation: sourceLocation)
      #expect(summary.status2xx == requests, "\(summary)", sourceLocation: sourceLocation)
    }
  }

  /// Sends GET `url` at a steady rate for `duration`: `clients` connections, each `rps` requests
  /// per second, one stream at a time (h2c prior knowledge, as to Envoy's listener).
  static func steady(
    url: String, clients: Int, rps: Int, duration: Duration, scope: TestScope
  ) async throws -> Run {
    let h2load = try TestEnvironment.h2loadBinary()
    let seconds = Int(duration.components.seconds)
    let run = try ChildProcess.spawn(
      name: "h2load-steady", executable: h2load,
      arguments: ["-c", String(clients), "-m", "1", "--rps", String(rps), "-D", String(seconds), url],
      scope: scope)
    let exit = await run.waitForExit(timeout: duration + .seconds(60))
    let output = run.log()
    print(output.split(separator: "\n").filter { $0.hasPrefix("requests:") || $0.hasPrefix("status codes:") }.joined(separator: "\n"))
    let summary = try? Summary(parsing: output)
    return Run(exit: exit, output: output, requests: summary?.done ?? -1)
  }

  /// Sends `requests` GETs of `url` over `connections` connections with `streams` concurrent
  /// streams each (h2c prior knowledge, as to Envoy's listener); prints h2load's summary lines.
  static func gets(
    url: String, requests: Int, scope: TestScope, connections: Int = 4, streams: Int = 10, timeout: Duration = .seconds(300)
  ) async throws -> Run {
    let h2load = try TestEnvironment.h2loadBinary()
    let run = try ChildProcess.spawn(
      name: "h2load-gets", executable: h2load,
      arguments: ["-n", String(requests), "-c", String(connections), "-m", String(streams), url], scope: scope)
    let exit = await run.waitForExit(timeout: timeout)
    let output = run.log()
    print(output.split(separator: "\n").filter { $0.hasPrefix("requests:") || $0.hasPrefix("status codes:") }.joined(separator: "\n"))
    return Run(exit: exit, output: output, requests: requests)
  }

  /// Sends `requests` Check calls with `body` (a length-prefixed CheckRequest) to `url` over
  /// `connections` connections with `streams` concurrent streams each; prints h2load's summary lines.
  static func checks(
    url: String, body: [UInt8], requests: Int, scope: TestScope, connections: Int = 10, streams: Int = 10,
    timeout: Duration = .seconds(600)
  ) async throws -> Run {
    let h2load = try TestEnvironment.h2loadBinary()
    let bodyFile = scope.file("check-\(UUID().uuidString.prefix(8)).bin")
    try Data(body).write(to: bodyFile)
    let run = try ChildProcess.spawn(
      name: "h2load", executable: h2load,
      arguments: [
        "-n", String(requests), "-c", String(connections), "-m", String(streams), "-d", bodyFile.path,
        "-H", "content-type: application/grpc", "-H", "te: trailers",
        url,
      ],
      scope: scope)
    let exit = await run.waitForExit(timeout: timeout)
    let output = run.log()
    let shown = ["requests:", "status codes:", "finished in", "TLS Protocol:", "Application protocol:"]
    print(output.split(separator: "\n").filter { line in shown.contains { line.hasPrefix($0) } }.joined(separator: "\n"))
    return Run(exit: exit, output: output, requests: requests)
  }
}
