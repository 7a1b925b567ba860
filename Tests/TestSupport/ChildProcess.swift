//===----------------------------------------------------------------------===//
// Test support: a long-running child process (a server, Envoy, a fake peer), its output in a log
// file, and how it ended.
//===----------------------------------------------------------------------===//

package import Foundation
import Synchronization

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// How a child process ended.
package enum ProcessExitStatus: Equatable, Sendable, CustomStringConvertible {
  /// It exited by itself with this status.
  case exited(Int32)
  /// A signal ended it.
  case signaled(Int32)

  package var description: String {
    switch self {
    case .exited(let code): "exited with status \(code)"
    case .signaled(let signal): "killed by signal \(signal)"
    }
  }
}

/// A child process started with `posix_spawn`, its stdout and stderr going to one log file.
///
/// Programs that run to completion go through ``Command``; this is for the ones a test starts,
/// talks to and stops. Whoever spawns one stops it: the end-to-end harness registers
/// ``terminate(timeout:)`` with its test scope, other tests call ``kill()`` in a `defer`.
package final class ChildProcess: Sendable {
  /// A short name for messages and log labels.
  package let name: String
  /// The child's process id.
  package let pid: pid_t
  /// Where the child's standard output and standard error go.
  package let logURL: URL
  private let status = Mutex<ProcessExitStatus?>(nil)

  private init(name: String, pid: pid_t, logURL: URL) {
    self.name = name
    self.pid = pid
    self.logURL = logURL
  }

  /// Starts `executable` (looked up on `PATH` when not a path) with `arguments`; the child
  /// inherits this process's environment with `environment` applied (a `nil` value removes a
  /// variable), reads /dev/null, and appends its output to `logURL`.
  package static func spawn(
    name: String,
    executable: String,
    arguments: [String],
    environment: [String: String?] = [:],
    logURL: URL
  ) throws -> ChildProcess {
    _ = FileManager.default.createFile(atPath: logURL.path, contents: nil)

    var fileActions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&fileActions)
    defer { posix_spawn_file_actions_destroy(&fileActions) }
    posix_spawn_file_actions_addopen(&fileActions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&fileActions, 1, logURL.path, O_WRONLY | O_CREAT | O_APPEND, 0o644)
    posix_spawn_file_actions_adddup2(&fileActions, 1, 2)
    // The child must not inherit the runner's sockets (SwiftNIO does not set close-on-exec): a
    // child holding a copy of a test server's socket keeps it open after the test closes it.
    closeInheritedDescriptors(&fileActions)

    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    // Default dispositions and an empty mask: the runner ignores SIGPIPE (NIO), and ignored
    // signals survive exec.
    var allSignals = sigset_t()
    sigfillset(&allSignals)
    posix_spawnattr_setsigdefault(&attributes, &allSignals)
    var noSignals = sigset_t()
    sigemptyset(&noSignals)
    posix_spawnattr_setsigmask(&attributes, &noSignals)
    posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

    let argv = [executable] + arguments
    let envp = Command.mergedEnvironment(environment).map { "\($0.key)=\($0.value)" }

    var pid: pid_t = 0
    let result = withCStringArray(argv) { cArgv in
      withCStringArray(envp) { cEnvp in
        posix_spawnp(&pid, executable, &fileActions, &attributes, cArgv, cEnvp)
      }
    }
    guard result == 0 else {
      throw TestFailure("could not start \(name) (\(executable)): \(String(cString: strerror(result)))")
    }
    return ChildProcess(name: name, pid: pid, logURL: logURL)
  }

  /// The exit status if the process has ended (reaps it), else nil.
  package func pollExit() -> ProcessExitStatus? {
    status.withLock { status in
      if let status { return status }
      var raw: Int32 = 0
      let result = waitpid(pid, &raw, WNOHANG)
      guard result == pid else { return nil }
      status = Self.exitStatus(raw)
      return status
    }
  }

  /// Whether the process has not ended yet.
  package var isRunning: Bool { pollExit() == nil }

  /// Sends `signal` unless the process has already ended.
  package func send(signal: Int32) {
    if isRunning { deliver(signal, to: pid) }
  }

  /// Waits up to `timeout` for the process to end by itself.
  package func waitForExit(timeout: Duration) async -> ProcessExitStatus? {
    let clock = ContinuousClock()
    let deadline = clock.now.advanced(by: timeout)
    while true {
      if let status = pollExit() { return status }
      if clock.now >= deadline { return nil }
      if (try? await Task.sleep(for: .milliseconds(20))) == nil {
        usleep(20_000)  // cancelled (e.g. a time limit hit): still wait, without spinning
      }
    }
  }

  /// SIGTERM, then SIGKILL if the process is still running after `timeout`. Returns how it ended.
  @discardableResult
  package func terminate(timeout: Duration = .seconds(5)) async -> ProcessExitStatus {
    if let status = pollExit() { return status }
    deliver(SIGTERM, to: pid)
    if let status = await waitForExit(timeout: timeout) { return status }
    deliver(SIGKILL, to: pid)
    if let status = await waitForExit(timeout: .seconds(10)) { return status }
    return .signaled(SIGKILL)
  }

  /// SIGKILL and reap, blocking: for a `defer`, which cannot await. A no-op once it has ended.
  package func kill() {
    status.withLock { status in
      guard status == nil else { return }
      deliver(SIGKILL, to: pid)
      var raw: Int32 = 0
      if waitpid(pid, &raw, 0) == pid { status = Self.exitStatus(raw) }
    }
  }

  /// Everything the process printed so far.
  package func log() -> String {
    (try? String(contentsOf: logURL, encoding: .utf8)) ?? ""
  }

  private static func exitStatus(_ raw: Int32) -> ProcessExitStatus {
    let signal = raw & 0x7f
    return signal == 0 ? .exited((raw >> 8) & 0xff) : .signaled(signal)
  }
}

/// `kill(2)`, under a name the class's own ``ChildProcess/kill()`` does not shadow.
private func deliver(_ signal: Int32, to pid: pid_t) {
  _ = kill(pid, signal)
}

/// Makes the spawned child close every descriptor above stderr: glibc's
/// `posix_spawn_file_actions_addclosefrom_np` (2.34+, looked up at run time because the Swift
/// Glibc module does not import it), else close-on-exec on every descriptor open right now.
private func closeInheritedDescriptors(_ fileActions: inout posix_spawn_file_actions_t) {
  typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
  #if canImport(Glibc)
    if let symbol = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np") {
      let addCloseFrom = unsafeBitCast(symbol, to: AddCloseFrom.self)
      if addCloseFrom(&fileActions, 3) == 0 { return }
    }
  #endif
  let directory = FileManager.default.fileExists(atPath: "/proc/self/fd") ? "/proc/self/fd" : "/dev/fd"
  for entry in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] {
    if let fd = Int32(entry), fd > 2 {
      _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
    }
  }
}

/// Calls `body` with a NULL-terminated C array of the given strings.
private func withCStringArray<R>(
  _ strings: [String],
  _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R
) -> R {
  var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
  pointers.append(nil)
  defer { for pointer in pointers { free(pointer) } }
  return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
}
