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

/// Runs programs to completion: output goes to temporary files (no pipe can fill up and stall the
/// child). ``run(_:_:stdin:environment:directory:timeout:mergingStandardError:)`` waits without
/// blocking Swift's cooperative threads (an async stream the termination handler finishes);
/// ``runBlocking(_:_:stdin:environment:directory:timeout:mergingStandardError:)`` is for
/// synchronous callers (fixtures built in a static initializer).
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
    let launch = try Launch(
      executable, arguments, stdin: stdin, environment: environment, directory: directory,
      mergingStandardError: mergingStandardError)
    let finished = AsyncStream<Void>.makeStream()
    launch.process.terminationHandler = { _ in finished.continuation.finish() }
    try launch.start()
    let watchdog = Task { [launch] in
      try await Task.sleep(for: timeout)
      launch.killIfRunning()
    }
    for await _ in finished.stream {}
    watchdog.cancel()
    return launch.result(timeout: timeout)
  }

  /// ``run(_:_:stdin:environment:directory:timeout:mergingStandardError:)`` for synchronous
  /// callers: blocks the calling thread until the child ends or is killed after `timeout`.
  package static func runBlocking(
    _ executable: String,
    _ arguments: [String],
    stdin: String? = nil,
    environment: [String: String?] = [:],
    directory: URL = Repository.root,
    timeout: Duration = .seconds(120),
    mergingStandardError: Bool = false
  ) throws -> CommandResult {
    let launch = try Launch(
      executable, arguments, stdin: stdin, environment: environment, directory: directory,
      mergingStandardError: mergingStandardError)
    try launch.start()
    let watchdog = DispatchWorkItem { [launch] in launch.killIfRunning() }
    let seconds = Double(timeout.components.seconds) + Double(timeout.components.attoseconds) / 1e18
    DispatchQueue.global().asyncAfter(deadline: .now() + seconds, execute: watchdog)
    launch.process.waitUntilExit()
    watchdog.cancel()
    return launch.result(timeout: timeout)
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

/// One child being run: its process, the scratch files its output goes to, and whether the
/// watchdog killed it. Both ways of waiting share it, so they cannot drift apart.
private final class Launch: @unchecked Sendable {
  // Process is not Sendable; after `start()` this is only read, and signalled by pid.
  let process = Process()
  private let command: String
  private let scratch: URL
  private let outURL: URL
  private let errURL: URL
  private let handles: [FileHandle]
  private let killed = Atomic<Bool>(false)

  init(
    _ executable: String,
    _ arguments: [String],
    stdin: String?,
    environment: [String: String?],
    directory: URL,
    mergingStandardError: Bool
  ) throws {
    command = ([executable] + arguments).joined(separator: " ")
    scratch = FileManager.default.temporaryDirectory
      .appendingPathComponent("test-command-\(UUID().uuidString.prefix(8))")
    try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    outURL = scratch.appendingPathComponent("stdout")
    errURL = scratch.appendingPathComponent("stderr")
    _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
    _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
    let outHandle = try FileHandle(forWritingTo: outURL)
    let errHandle = try FileHandle(forWritingTo: errURL)
    var handles = [outHandle, errHandle]

    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.currentDirectoryURL = directory
    process.environment = Command.mergedEnvironment(environment)
    process.standardOutput = outHandle
    process.standardError = mergingStandardError ? outHandle : errHandle
    if let stdin {
      let inURL = scratch.appendingPathComponent("stdin")
      try Data(stdin.utf8).write(to: inURL)
      let inHandle = try FileHandle(forReadingFrom: inURL)
      handles.append(inHandle)
      process.standardInput = inHandle
    } else {
      process.standardInput = FileHandle.nullDevice
    }
    self.handles = handles
  }

  deinit {
    for handle in handles { try? handle.close() }
    try? FileManager.default.removeItem(at: scratch)
  }

  func start() throws {
    do {
      try process.run()
    } catch {
      throw TestFailure("could not run \(command): \(error)")
    }
  }

  /// The watchdog's action once the time limit passed.
  func killIfRunning() {
    if process.isRunning {
      killed.store(true, ordering: .sequentiallyConsistent)
      kill(process.processIdentifier, SIGKILL)
    }
  }

  /// What the ended child left behind.
  func result(timeout: Duration) -> CommandResult {
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
}
