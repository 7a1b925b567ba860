import Foundation

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

/// Free loopback TCP ports, chosen by the kernel (bound to port 0, read back, released).
enum FreePorts {
  static func take(_ count: Int) throws -> [Int] {
    var descriptors: [Int32] = []
    defer { descriptors.forEach { _ = close($0) } }
    var ports: [Int] = []
    for _ in 0..<count {
      let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
      guard descriptor >= 0 else { throw TestFailure("socket() failed: errno \(errno)") }
      descriptors.append(descriptor)
      var address = sockaddr_in()
      address.sin_family = sa_family_t(AF_INET)
      address.sin_port = 0
      address.sin_addr.s_addr = inet_addr("127.0.0.1")
      var length = socklen_t(MemoryLayout<sockaddr_in>.size)
      let bound = withUnsafeMutablePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { generic in
          bind(descriptor, generic, length) == 0 && getsockname(descriptor, generic, &length) == 0
        }
      }
      guard bound else { throw TestFailure("binding a loopback port failed: errno \(errno)") }
      ports.append(Int(UInt16(bigEndian: address.sin_port)))
    }
    return ports
  }
}
