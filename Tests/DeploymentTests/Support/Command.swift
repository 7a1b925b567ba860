import Foundation

/// What a finished command left behind.
struct CommandResult: Sendable, CustomStringConvertible {
  var command: String
  /// The exit status, or the signal number when `signaled` is true.
  var status: Int32
  var signaled: Bool
  var stdout: String
  var stderr: String

  var succeeded: Bool { !signaled && status == 0 }

  var description: String {
    let end = signaled ? "killed by signal \(status)" : "exit status \(status)"
    return "`\(command)`: \(end)\n--- stdout ---\n\(stdout.suffix(20_000))\n--- stderr ---\n\(stderr.suffix(20_000))"
  }
}

/// Runs programs without blocking Swift's cooperative threads: output goes to temporary files (no
/// pipe can fill up and stall the child), and the wait is a continuation resumed by the
/// termination handler.
enum Command {
  /// Runs `executable` with `arguments` to completion.
  ///
  /// - Parameters:
  ///   - stdin: bytes for the child's standard input (none: /dev/null).
  ///   - environment: variables laid over this process's environment; `nil` values remove one.
  ///   - timeout: the child is killed (SIGKILL) if it runs longer, and the result says so.
  static func run(
    _ executable: String,
    _ arguments: [String],
    stdin: String? = nil,
    environment: [String: String?] = [:],
    directory: URL = Repository.root,
    timeout: Duration = .seconds(120)
  ) async throws -> CommandResult {
    let scratch = FileManager.default.temporaryDirectory
      .appendingPathComponent("deployment-tests-\(UUID().uuidString.prefix(8))")
    try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: scratch) }
    let outURL = scratch.appendingPathComponent("stdout")
    let errURL = scratch.appendingPathComponent("stderr")
    _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
    _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
    let outHandle = try FileHandle(forWritingTo: outURL)
    let errHandle = try FileHandle(forWritingTo: errURL)
    defer {
      try? outHandle.close()
      try? errHandle.close()
    }

    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.currentDirectoryURL = directory
    process.environment = mergedEnvironment(environment)
    process.standardOutput = outHandle
    process.standardError = errHandle
    var inHandle: FileHandle?
    if let stdin {
      let inURL = scratch.appendingPathComponent("stdin")
      try Data(stdin.utf8).write(to: inURL)
      inHandle = try FileHandle(forReadingFrom: inURL)
      process.standardInput = inHandle
    } else {
      process.standardInput = FileHandle.nullDevice
    }
    defer { try? inHandle?.close() }

    let finished = AsyncStream<Void>.makeStream()
    process.terminationHandler = { _ in finished.continuation.finish() }
    try process.run()

    let watchdog = Task {
      try await Task.sleep(for: timeout)
      if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
    for await _ in finished.stream {}
    watchdog.cancel()

    let command = ([executable] + arguments).joined(separator: " ")
    let stdout = (try? String(contentsOf: outURL, encoding: .utf8)) ?? ""
    var stderr = (try? String(contentsOf: errURL, encoding: .utf8)) ?? ""
    let signaled = process.terminationReason == .uncaughtSignal
    if signaled && process.terminationStatus == SIGKILL {
      stderr += "\n(killed after the \(timeout) time limit)"
    }
    return CommandResult(
      command: command, status: process.terminationStatus, signaled: signaled, stdout: stdout, stderr: stderr)
  }

  /// This process's environment with `changes` applied (a `nil` value removes the variable).
  static func mergedEnvironment(_ changes: [String: String?]) -> [String: String] {
    var environment = ProcessInfo.processInfo.environment
    for (key, value) in changes {
      environment[key] = value
    }
    return environment
  }

  /// The environment for running `augmenter` itself: without the caller's `AUGMENTER_*` overrides
  /// (a developer's shell must not change what the shipped files mean), plus `extra`.
  static func augmenterEnvironment(_ extra: [String: String] = [:]) -> [String: String?] {
    var changes: [String: String?] = [:]
    for key in ProcessInfo.processInfo.environment.keys where key.hasPrefix("AUGMENTER_") {
      changes[key] = .some(nil)
    }
    for (key, value) in extra { changes[key] = value }
    return changes
  }
}
