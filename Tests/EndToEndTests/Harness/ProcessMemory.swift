//===----------------------------------------------------------------------===//
// End-to-end harness: a process's memory, read from /proc.
//===----------------------------------------------------------------------===//

import Foundation

/// Reads a process's memory from `/proc`, for the tests that bound what one client can cost.
enum ProcessMemory {
  /// Resident set size in bytes (`VmRSS` in `/proc/PID/status`), or nil once the process is gone.
  static func residentBytes(pid: pid_t) -> Int? {
    guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
    for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
      // "VmRSS:     12345 kB"
      let fields = line.split(separator: " ", omittingEmptySubsequences: true)
      guard fields.count >= 2, let kilobytes = Int(fields[1]) else { return nil }
      return kilobytes * 1024
    }
    return nil
  }

  /// Open file descriptors of a process (entries of `/proc/PID/fd`), or nil once it is gone.
  static func openDescriptors(pid: pid_t) -> Int? {
    (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd"))?.count
  }
}
