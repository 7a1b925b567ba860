import Foundation

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
    let path = ProcessInfo.processInfo.environment["CURL_BIN"].flatMap { $0.isEmpty ? nil : $0 } ?? "/usr/bin/curl"
    guard FileManager.default.isExecutableFile(atPath: path) else {
      throw HarnessError("CURL_BIN: no executable at \(path): install Debian's curl (with HTTP/2 support) or set CURL_BIN")
    }
    return path
  }

  /// Runs `curl -sS <options> <url>` (at most 10 s) and returns what it saw.
  static func get(_ url: String, options: [String], scope: TestScope) async throws -> Result {
    let binary = try binary()
    let id = UUID().uuidString.prefix(8)
    let bodyURL = scope.file("curl-\(id).body")
    let outURL = scope.file("curl-\(id).out")
    let errURL = scope.file("curl-\(id).err")
    for url in [outURL, errURL] { _ = FileManager.default.createFile(atPath: url.path, contents: nil) }
    let arguments = ["-sS", "--max-time", "10", "-o", bodyURL.path, "-w", "%{http_code} %{http_version}"] + options + [url]

    let process = Process()
    process.executableURL = URL(fileURLWithPath: binary)
    process.arguments = arguments
    process.standardInput = FileHandle.nullDevice
    let out = try FileHandle(forWritingTo: outURL)
    let err = try FileHandle(forWritingTo: errURL)
    defer {
      try? out.close()
      try? err.close()
    }
    process.standardOutput = out
    process.standardError = err
    let exitCode: Int32 = try await withCheckedThrowingContinuation { continuation in
      process.terminationHandler = { continuation.resume(returning: $0.terminationStatus) }
      do {
        try process.run()
      } catch {
        process.terminationHandler = nil
        continuation.resume(throwing: HarnessError("could not run \(binary): \(error)"))
      }
    }
    let writeOut = ((try? String(contentsOf: outURL, encoding: .utf8)) ?? "").split(separator: " ")
    return Result(
      exitCode: exitCode,
      status: writeOut.first.flatMap { Int($0) } ?? 0,
      httpVersion: writeOut.count > 1 ? String(writeOut[1]) : "",
      body: (try? String(contentsOf: bodyURL, encoding: .utf8)) ?? "",
      stderr: (try? String(contentsOf: errURL, encoding: .utf8)) ?? "",
      arguments: arguments)
  }
}
