import EnvoyAPI
import Foundation
import SwiftProtobuf
import Testing

extension EndToEnd {
  /// A correctness test under load (no timing assertions).
  @Suite("Load")
  struct Load {
    /// `requests: 100000 total, 100000 started, 100000 done, 100000 succeeded, 0 failed, 0 errored, 0 timeout`
    struct H2LoadSummary: CustomStringConvertible {
      var total = -1, started = -1, done = -1, succeeded = -1, failed = -1, errored = -1, timeout = -1
      var status2xx = -1

      init(parsing output: String) throws {
        guard let line = output.split(separator: "\n").first(where: { $0.hasPrefix("requests:") }) else {
          throw HarnessError("h2load printed no \"requests:\" summary line")
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

    @Test("h2load: 100,000 checks over 10 connections straight at the check port, zero failures")
    func h2loadHundredThousandChecks() async throws {
      try await withTestScope { scope in
        let h2load = try TestEnvironment.h2loadBinary()
        let provider = try await TestProvider.start(scope: scope, answer: .headers(["x-a": "provider", "x-b": "load"]))
        var config = AugmenterConfig(providers: [ProviderConfig(url: provider.url)])
        config.providers[0].ttl = "60s"
        config.providers[0].timeout = "2s"
        config.logLevel = "info"
        let augmenter = try await AugmenterProcess.start(scope: scope, config: config)
        try await augmenter.waitUntilReady()

        // The body h2load sends: a CheckRequest like Envoy's, length-prefixed.
        let body = try Messages.checkBody()
        let bodyFile = scope.file("check.bin")
        try Data(body).write(to: bodyFile)

        // h2load counts any HTTP 200 as success, so first prove this body gets a real allow.
        let client = try await GRPCTestClient.connect(port: augmenter.checkPort, scope: scope)
        let probe = try await client.unary(path: GRPCPath.check, body: body)
        #expect(probe.grpcStatus == 0, "\(probe)")
        let allow = try probe.message(as: Envoy_Service_Auth_V3_CheckResponse.self)
        #expect(allow.status.code == 0)
        #expect(allow.okHeaders.map(\.name).sorted() == ["x-a", "x-b"])

        let requests = 100_000
        let run = try ManagedProcess.spawn(
          name: "h2load", executable: h2load,
          arguments: [
            "-n", String(requests), "-c", "10", "-m", "10", "-d", bodyFile.path,
            "-H", "content-type: application/grpc", "-H", "te: trailers",
            "http://127.0.0.1:\(augmenter.checkPort)\(GRPCPath.check)",
          ],
          scope: scope)
        let exit = await run.waitForExit(timeout: .seconds(600))
        let output = run.log()
        print(output.split(separator: "\n").filter { $0.hasPrefix("requests:") || $0.hasPrefix("status codes:") || $0.hasPrefix("finished in") }.joined(separator: "\n"))
        #expect(exit == .exited(0), "h2load \(exit.map { "\($0)" } ?? "did not finish within 600s"):\n\(output)")
        let summary = try H2LoadSummary(parsing: output)
        #expect(summary.total == requests, "\(summary)")
        #expect(summary.succeeded == requests, "\(summary)")
        #expect(summary.done == requests, "\(summary)")
        #expect(summary.failed == 0, "\(summary)")
        #expect(summary.errored == 0, "\(summary)")
        #expect(summary.timeout == 0, "\(summary)")
        #expect(summary.status2xx == requests, "\(summary)")

        // Still serving real allows afterwards, on the connection opened before the load.
        let after = try await client.unary(path: GRPCPath.check, body: body)
        #expect(after.grpcStatus == 0, "\(after)")
        #expect(try after.message(as: Envoy_Service_Auth_V3_CheckResponse.self).okHeaders.count == 2)
        #expect(augmenter.process.isRunning)
      }
    }
  }
}
