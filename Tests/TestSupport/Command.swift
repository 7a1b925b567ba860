//===----------------------------------------------------------------------===//
// Test support: running a program to completion and capturing its output and status.
//===----------------------------------------------------------------------===//

package import Foundation
import Synchronization

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// What a finished command left behind.
package struct CommandResult: Sendable, CustomStringConvertible {
  /// The command line, for messages.
  package var command: String
  /// The exit status, or the signal number when `signaled` is true.
  package var status: Int32
  /// Whether a signal ended the program.
  package var signaled: Bool
  /// Whether the program was killed (SIGKILL) for running past its time limit.
  package var timedOut: Bool
  /// Standard output (with standard error interleaved when the run merged them).
  package var stdout: String
  /// Standard error (empty when the run merged it into `stdout`).
  package var stderr: String

  /// Whether the program exited by itself with status 0.
  package var succeeded: Bool { !signaled && status == 0 }

  /// The command, how it ended, and the end of its output.
  package var description: String {
    let end = signaled ? "killed by signal \(status)" : "exit status \(status)"
    return "`\(command)`: \(end)\n--- stdout ---\n\(stdout.suffix(20_000))\n--- stderr ---\n\(stderr.suffix(20_000))"
  }
}

/// Runs programs without blocking Swift's cooperative threads: output goes to temporary files (no
/// pipe can fill up and stall the child), and the wait is an async stream the termination handler
/// finishes.
package enum Command {
  /// Runs `executable` with `arguments` to completion.
  ///
  /// - Parameters:
  ///   - stdin: bytes for the child's standard input (none: /dev/null).
  ///   - environment: variables laid over this process's environment; `nil` values remove one.
  ///   - directory: the child's working directory.
  ///   - timeout: the child is killed (SIGKILL) if it runs longer, and the result says so.
  ///   - mergingStandardError: standard error goes to the same file as standard output, so the
  ///     two are interleaved in `stdout` as a terminal would show them.
  package static func run(
    _ executable: String,
    _ arguments: [String],
    stdin: String? = nil,
    environment: [String: String?] = [:],
    directory: URL = Repository.root,
    timeout: Duration = .seconds(120),
    mergingStandardError: Bool = false
  ) async throws -> CommandResult {
    let scratch = FileManager.default.temporaryDirectory
      .appendingPathComponent("test-command-\(UUID().uuidString.prefix(8))")
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

    let command = ([executable] + arguments).joined(separator: " ")
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.currentDirectoryURL = directory
    process.environment = mergedEnvironment(environment)
    process.standardOutput = outHandle
    process.standardError = mergingStandardError ? outHandle : errHandle
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
    do {
      try process.run()
    } catch {
      throw TestFailure("could not run \(command): \(error)")
    }

    let killed = Atomic<Bool>(false)
    let watchdog = Task {
      try await Task.sleep(for: timeout)
      if process.isRunning {
        killed.store(true, ordering: .sequentiallyConsistent)
        kill(process.processIdentifier, SIGKILL)
      }
    }
    for await _ in finished.stream {}
    watchdog.cancel()
    // The watchdog may have fired after the child ended by itself: only a SIGKILL death counts.
    let signaled = process.terminationReason == .uncaughtSignal
    let timedOut = killed.load(ordering: .sequentiallyConsistent) && signaled && process.terminationStatus == SIGKILL

    let stdout = (try? String(contentsOf: outURL, encoding: .utf8)) ?? ""
    var stderr = (try? String(contentsOf: errURL, encoding: .utf8)) ?? ""
    if timedOut {
      stderr += "\n(killed after the \(timeout) time limit)"
    }
    return CommandResult(
      command: command, status: process.terminationStatus, signaled: signaled, timedOut: timedOut,
      stdout: stdout, stderr: stderr)
  }

  /// This process's environment with `changes` applied (a `nil` value removes the variable).
  package static func mergedEnvironment(_ changes: [String: String?]) -> [String: String] {
    var environment = ProcessInfo.processInfo.environment
    for (key, value) in changes {
      environment[key] = value
    }
    return environment
  }
}
