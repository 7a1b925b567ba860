//===----------------------------------------------------------------------===//
// Test support: free loopback TCP ports, chosen by the kernel.
//===----------------------------------------------------------------------===//

import Synchronization

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Loopback ports that are free right now (bind 127.0.0.1:0, read the port, close). No port is
/// handed out twice in one test process, so ports taken for one child never collide with another's.
package enum FreePort {
  private static let handedOut = Mutex<Set<Int>>([])

  /// A free port not handed out before.
  package static func next() throws -> Int {
    for _ in 0..<50 {
      let port = try bindEphemeral()
      let fresh = handedOut.withLock { $0.insert(port).inserted }
      if fresh { return port }
    }
    throw TestFailure("could not find a fresh free port")
  }

  /// `count` distinct free ports.
  package static func take(_ count: Int) throws -> [Int] {
    try (0..<count).map { _ in try next() }
  }

  private static func bindEphemeral() throws -> Int {
    #if canImport(Glibc)
      let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    #else
      let fd = socket(AF_INET, SOCK_STREAM, 0)
    #endif
    guard fd >= 0 else { throw TestFailure("socket() failed: errno \(errno)") }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = 0
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let bound = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
      }
    }
    guard bound == 0 else { throw TestFailure("binding a loopback port failed: errno \(errno)") }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let named = withUnsafeMutablePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        getsockname(fd, $0, &length)
      }
    }
    guard named == 0 else { throw TestFailure("getsockname() failed: errno \(errno)") }
    return Int(UInt16(bigEndian: address.sin_port))
  }
}
