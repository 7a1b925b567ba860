//===----------------------------------------------------------------------===//
// Deployment test support: a long-running child process (a server) with its output in a log file.
//===----------------------------------------------------------------------===//

import Foundation
import TestSupport

#if canImport(Glibc)
  import Glibc
#endif

/// A long-running child process (a server), its output in a log file. Stop it with ``stop()``
/// (SIGKILL if still running) in a `defer`, so no test leaves one behind.
final class BackgroundProcess: @unchecked Sendable {
  // Process is not Sendable; this wrapper only reads its state and sends signals by pid.
  private let process: Process
  let name: String
  let logURL: URL

  init(name: String, executable: String, arguments: [String], environment: [String: String?] = [:], logURL: URL) throws {
    self.name = name
    self.logURL = logURL
    _ = FileManager.default.createFile(atPath: logURL.path, contents: nil)
    let log = try FileHandle(forWritingTo: logURL)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.environment = Command.mergedEnvironment(environment)
    process.currentDirectoryURL = Repository.root
    process.standardInput = FileHandle.nullDevice
    process.standardOutput = log
    process.standardError = log
    try process.run()
    try? log.close()
    self.process = process
  }

  var isRunning: Bool { process.isRunning }
  var log: String { (try? String(contentsOf: logURL, encoding: .utf8)) ?? "(no log)" }

  func signal(_ signal: Int32) {
    if process.isRunning { kill(process.processIdentifier, signal) }
  }

  /// Waits for the process to end; `nil` if it is still running after `timeout`.
  func waitForExit(timeout: Duration) async -> (status: Int32, signaled: Bool)? {
    let clock = ContinuousClock()
    let deadline = clock.now.advanced(by: timeout)
    while process.isRunning {
      if clock.now >= deadline { return nil }
      try? await Task.sleep(for: .milliseconds(50))
    }
    return (process.terminationStatus, process.terminationReason == .uncaughtSignal)
  }

  /// Kills the process if it is still running and reaps it.
  func stop() {
    guard process.isRunning else { return }
    kill(process.processIdentifier, SIGKILL)
    process.waitUntilExit()
  }
}
