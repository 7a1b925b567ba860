//===----------------------------------------------------------------------===//
// End-to-end harness: child processes, their output and how they ended.
//===----------------------------------------------------------------------===//

import Foundation
import Synchronization
import TestSupport

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// How a child process ended.
enum ExitStatus: Equatable, Sendable, CustomStringConvertible {
  case exited(Int32)
  case signaled(Int32)

  var description: String {
    switch self {
    case .exited(let code): "exited with status \(code)"
    case .signaled(let signal): "killed by signal \(signal)"
    }
  }
}

/// A child process started with `posix_spawn`, its stdout and stderr going to one log file.
///
/// Every process is registered with the ``TestScope`` that started it, whose teardown sends SIGTERM,
/// waits a little, then SIGKILLs: no test leaves a process behind, pass or fail.
final class ManagedProcess: Sendable {
  let name: String
  let pid: pid_t
  let logURL: URL
  private let status = Mutex<ExitStatus?>(nil)

  private init(name: String, pid: pid_t, logURL: URL) {
    self.name = name
    self.pid = pid
    self.logURL = logURL
  }

  /// Starts `executable` with `arguments`; the child inherits this environment plus `environment`.
  static func spawn(
    name: String,
    executable: String,
    arguments: [String],
    environment: [String: String] = [:],
    scope: TestScope,
    killTimeout: Duration = .seconds(5)
  ) throws -> ManagedProcess {
    let logURL = scope.file("\(name).log")
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

    var env = ProcessInfo.processInfo.environment
    for (key, value) in environment { env[key] = value }
    let argv = [executable] + arguments
    let envp = env.map { "\($0.key)=\($0.value)" }

    var pid: pid_t = 0
    let result = withCStringArray(argv) { cArgv in
      withCStringArray(envp) { cEnvp in
        posix_spawnp(&pid, executable, &fileActions, &attributes, cArgv, cEnvp)
      }
    }
    guard result == 0 else {
      throw TestFailure("could not start \(name) (\(executable)): \(String(cString: strerror(result)))")
    }
    let process = ManagedProcess(name: name, pid: pid, logURL: logURL)
    scope.registerLog(name, at: logURL)
    scope.onTeardown("stop \(name)") {
      _ = await process.terminate(timeout: killTimeout)
    }
    return process
  }

  /// The exit status if the process has ended (reaps it), else nil.
  func pollExit() -> ExitStatus? {
    status.withLock { status in
      if let status { return status }
      var raw: Int32 = 0
      let result = waitpid(pid, &raw, WNOHANG)
      guard result == pid else { return nil }
      let signal = raw & 0x7f
      status = signal == 0 ? .exited((raw >> 8) & 0xff) : .signaled(signal)
      return status
    }
  }

  var isRunning: Bool { pollExit() == nil }

  func send(signal: Int32) {
    if isRunning { kill(pid, signal) }
  }

  /// Waits up to `timeout` for the process to end by itself.
  func waitForExit(timeout: Duration) async -> ExitStatus? {
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
  func terminate(timeout: Duration = .seconds(5)) async -> ExitStatus {
    if let status = pollExit() { return status }
    kill(pid, SIGTERM)
    if let status = await waitForExit(timeout: timeout) { return status }
    kill(pid, SIGKILL)
    if let status = await waitForExit(timeout: .seconds(10)) { return status }
    return .signaled(SIGKILL)
  }

  /// Everything the process printed so far.
  func log() -> String {
    (try? String(contentsOf: logURL, encoding: .utf8)) ?? ""
  }
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
