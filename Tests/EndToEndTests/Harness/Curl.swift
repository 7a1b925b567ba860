//===----------------------------------------------------------------------===//
// End-to-end harness: requests through the system curl.
//===----------------------------------------------------------------------===//

import Foundation
import TestSupport

/// The system `curl` (`CURL_BIN`, else /usr/bin/curl), for requests made the way operators and
/// probes make them: `--http1.1` or `--http2-prior-knowledge`.
enum Curl {
  struct Result: Sendable, CustomStringConvertible {
    var exitCode: Int32
    /// `%{http_code}`: 0 when no response arrived.
    var status: Int
    /// `%{http_version}`: "1.1" or "2" (the protocol curl actually used).
    var httpVersion: String
    var body: String
    var stderr: String
    var arguments: [String]

    var description: String {
      "curl \(arguments.joined(separator: " ")): exit \(exitCode), HTTP/\(httpVersion) \(status), body \(body.prefix(300).debugDescription), stderr \(stderr.prefix(300).debugDescription)"
    }
  }

  static func binary() throws -> String {
    try Executable.locate(
      variable: "CURL_BIN", fallback: "/usr/bin/curl", hint: "install Debian's curl (with HTTP/2 support) or set CURL_BIN")
  }

  /// Runs `curl -sS <options> <url>` (at most 10 s) and returns what it saw.
  static func get(_ url: String, options: [String], scope: TestScope) async throws -> Result {
    let binary = try binary()
    let bodyURL = scope.file("curl-\(UUID().uuidString.prefix(8)).body")
    let arguments = ["-sS", "--max-time", "10", "-o", bodyURL.path, "-w", "%{http_code} %{http_version}"] + options + [url]
    let run = try await Command.run(binary, arguments)
    let writeOut = run.stdout.split(separator: " ")
    return Result(
      exitCode: run.status,
      status: writeOut.first.flatMap { Int($0) } ?? 0,
      httpVersion: writeOut.count > 1 ? String(writeOut[1]) : "",
      body: (try? String(contentsOf: bodyURL, encoding: .utf8)) ?? "",
      stderr: run.stderr,
      arguments: arguments)
  }
}
