//===----------------------------------------------------------------------===//
// End-to-end harness: an HTTP/2 client that floods control frames and never reads.
//===----------------------------------------------------------------------===//

import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// An HTTP/2 client that never reads: it sends the h2c preface, waits for the server to have set
/// the connection up, then sends the same frame (a PING, an empty SETTINGS) over and over, a batch
/// per write, for a set time. When the server closes the connection it connects again, as an
/// attacker would.
///
/// Its receive buffer is small (it is the attacker's to choose), so the kernel soaks up little
/// of what the server sends and the server's own buffering is what gets tested. Each connection
/// is paced (200 frames per write, a write every 20 ms) so that one read of the server rarely
/// holds more acknowledgements than nghttp2's per-read limit, even when the server is not
/// scheduled for a while on a busy machine: the attack is the sum over many reads and several
/// connections.
///
/// Plain blocking-free POSIX sockets on a thread of its own, not NIO: a NIO channel would read
/// (or queue our writes in the test process); this one leaves everything the server sends in
/// the kernel, exactly like a peer that stopped reading. Loopback only.
enum NonReadingFlooder {
  struct Outcome: Sendable, CustomStringConvertible {
    /// Bytes the kernel accepted from us.
    var bytesSent = 0
    /// Connections opened (1 + how often the server closed one on us).
    var connections = 0
    /// Connections the server closed (reset or EOF seen on send).
    var closedByServer = 0

    var description: String {
      "\(bytesSent) bytes sent on \(connections) connection(s), \(closedByServer) closed by the server"
    }
  }

  /// `PRI * HTTP/2.0...` and an empty SETTINGS frame.
  static let preface: [UInt8] = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8) + [0, 0, 0, 4, 0, 0, 0, 0, 0]
  /// A PING (8 bytes of opaque data, no ACK).
  static let ping: [UInt8] = [0, 0, 8, 6, 0, 0, 0, 0, 0] + [0, 0, 0, 0, 0, 0, 0, 1]
  /// An empty SETTINGS frame (no ACK): the server owes a SETTINGS ACK for each.
  static let settings: [UInt8] = [0, 0, 0, 4, 0, 0, 0, 0, 0]

  /// Floods 127.0.0.1:`port` from `connections` connections at once with `frame`,
  /// `framesPerWrite` per write, a write about every `pause` on each, for `duration`.
  static func run(
    port: Int, frame: [UInt8], connections: Int = 4, framesPerWrite: Int = 200, pause: Duration = .milliseconds(5),
    duration: Duration
  ) async -> Outcome {
    await withTaskGroup(of: Outcome.self) { group in
      for _ in 0..<connections {
        group.addTask {
          await withCheckedContinuation { continuation in
            let thread = Thread {
              continuation.resume(
                returning: self.flood(port: port, frame: frame, framesPerWrite: framesPerWrite, pause: pause, duration: duration))
            }
            thread.start()
          }
        }
      }
      var total = Outcome()
      for await outcome in group {
        total.bytesSent += outcome.bytesSent
        total.connections += outcome.connections
        total.closedByServer += outcome.closedByServer
      }
      return total
    }
  }

  private static func flood(port: Int, frame: [UInt8], framesPerWrite: Int, pause: Duration, duration: Duration) -> Outcome {
    let clock = ContinuousClock()
    let deadline = clock.now + duration
    let batch = Array([[UInt8]](repeating: frame, count: framesPerWrite).joined())
    let pauseMicroseconds = useconds_t(pause.components.seconds * 1_000_000 + pause.components.attoseconds / 1_000_000_000_000)
    var outcome = Outcome()
    while clock.now < deadline {
      guard let fd = self.connect(port: port) else {
        usleep(10_000)
        continue
      }
      outcome.connections += 1
      var open = self.preface.withUnsafeBytes { bytes in
        send(fd, bytes.baseAddress!, bytes.count, Int32(MSG_NOSIGNAL)) == bytes.count
      }
      // Frames sent before the server has the connection's handlers in place arrive in its
      // first read all at once, which even an unprotected server refuses as a flood.
      usleep(200_000)
      var pending = batch
      var offset = 0
      while open, clock.now < deadline {
        let sent = pending.withUnsafeBytes { bytes in
          send(fd, bytes.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL | MSG_DONTWAIT))
        }
        if sent > 0 {
          outcome.bytesSent += sent
          offset += sent
          if offset == pending.count {
            pending = batch
            offset = 0
            usleep(pauseMicroseconds)
          }
        } else if sent < 0, errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR {
          // The server stopped reading us (or is slow): wait, as a patient attacker would.
          usleep(1_000)
        } else {
          outcome.closedByServer += 1
          open = false
        }
      }
      close(fd)
    }
    return outcome
  }

  private static func connect(port: Int) -> Int32? {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return nil }
    // Before connect: the window it advertises is fixed at the handshake.
    var receiveBuffer: Int32 = 4096
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receiveBuffer, socklen_t(MemoryLayout<Int32>.size))
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let result = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
      }
    }
    guard result == 0 else {
      close(fd)
      return nil
    }
    return fd
  }
}
