//===----------------------------------------------------------------------===//
// End-to-end tests: HTTP/1.1 abusive clients and listener limits.
//===----------------------------------------------------------------------===//

import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// A TCP client of plain POSIX calls that writes and never reads: its receive buffer is small, so
/// the server's answers pile up on the server's side unless the server stops reading.
private final class NonReadingClient: @unchecked Sendable {
  private let fd: Int32

  init(port: Int) throws {
    fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw TestFailure("socket: \(errno)") }
    var small: Int32 = 4096
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, socklen_t(MemoryLayout<Int32>.size))
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let result = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard result == 0 else {
      Glibc.close(fd)
      throw TestFailure("connect to \(port): \(errno)")
    }
    _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
  }

  /// Writes `chunk` over and over until `total` bytes went out, the server closed, or `duration`
  /// passed; returns the bytes sent. Blocking: run it off the concurrency pool.
  func flood(_ chunk: [UInt8], total: Int, for duration: Duration) -> Int {
    let deadline = ContinuousClock.now + duration
    var sent = 0
    var offset = 0
    while sent < total, ContinuousClock.now < deadline {
      let n = chunk.withUnsafeBytes { bytes in
        send(fd, bytes.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL))
      }
      if n > 0 {
        sent += n
        offset = (offset + n) % chunk.count
      } else if n < 0, errno == EAGAIN || errno == EWOULDBLOCK {
        usleep(5_000)
      } else {
        break
      }
    }
    return sent
  }

  func close() { Glibc.close(fd) }
}

/// Runs blocking work on its own thread.
private func offPool<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
  await withCheckedContinuation { continuation in
    Thread.detachNewThread { continuation.resume(returning: work()) }
  }
}

/// CPU time (user + system) a process has used, from `/proc/PID/stat`, in seconds.
private func cpuSeconds(pid: pid_t) -> Double? {
  guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
    let close = stat.lastIndex(of: ")")
  else { return nil }
  // Fields after "(comm)": state is field 3; utime and stime are fields 14 and 15.
  let fields = stat[stat.index(after: close)...].split(separator: " ")
  guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
  return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
}

extension EndToEnd {
  /// HTTP/1.1 clients that try to make Augmenter hold memory, connections or CPU.
  @Suite("HTTP/1.1 abusive clients and listener limits")
  struct HTTP1Attacks {
    static let injected = "Bearer attack-7c2e"
    /// The most one client that never reads may add to the process's resident memory. The design
    /// bound per connection is well under 1 MiB (one read's worth of bytes held, one 4 KiB slice
    /// of requests parsed, at most 16 answers plus one slice queued); the rest is allocator slack.
    static let memoryBudget = 8 * 1024 * 1024

    private static func start(
      _ scope: TestScope, extraLines: [String] = [], launcher: [String] = [], staticHeaders: [String: String] = [:]
    ) async throws -> AugmenterProcess {
      let provider = try await TestProvider.start(scope: scope, answer: .headers(["authorization": injected]))
      // A long ttl: a refresh delayed by the flood must not turn the other clients' allows into
      // denials (those would still be answers, but the test checks for the allow).
      var config = AugmenterConfig(providers: [ProviderConfig(url: provider.url, ttl: "60s", maxStale: "60s")])
      config.logLevel = "info"
      config.staticHeaders = staticHeaders
      config.extraLines = extraLines
      let augmenter = try await AugmenterProcess.start(scope: scope, config: config, launcher: launcher)
      try await augmenter.waitUntilReady()
      return augmenter
    }

    private static func get(_ path: String, close: Bool = false) -> String {
      "GET \(path) HTTP/1.1\r\nhost: envoy.test\r\n" + (close ? "connection: close\r\n" : "") + "\r\n"
    }

    /// One request on a fresh connection; the time until its answer, and the answer's status.
    private static func timedRequest(port: Int, path: String, scope: TestScope) async throws -> (Duration, Int) {
      let start = ContinuousClock.now
      let connection = try await RawConnection.connect(port: port, scope: scope)
      defer { connection.close() }
      await connection.write(get(path, close: true))
      let (responses, _) = try await connection.responses(1, timeout: .seconds(10))
      return (ContinuousClock.now - start, responses[0].status)
    }

    @Test(
      "pipelined GETs from a client that never reads: memory stays bounded, other clients are served",
      arguments: ["check", "admin"])
    func pipeliningWithoutReading(port kind: String) async throws {
      try await withTestScope { scope in
        // ~4 KiB of static headers make every allow ~4 KiB: a server that answers everything it
        // reads grows by that much per 50-byte request, even a slow debug build on a busy machine.
        let bulky = Dictionary(uniqueKeysWithValues: (0..<8).map { ("x-bulk-\($0)", String(repeating: "b", count: 500)) })
        let augmenter = try await Self.start(scope, staticHeaders: bulky)
        let port = kind == "check" ? augmenter.checkPort : augmenter.adminPort
        // /status: the admin port's largest answer, so a server that never stops reading grows fastest.
        let path = kind == "check" ? "/pipelined" : "/status"
        let pid = augmenter.process.pid
        for _ in 0..<5 {
          #expect(try await Self.timedRequest(port: port, path: path, scope: scope).1 == 200)
        }
        try await Task.sleep(for: .milliseconds(300))
        let baseline = try #require(ProcessMemory.residentBytes(pid: pid))

        let client = try NonReadingClient(port: port)
        defer { client.close() }
        let chunk = Array(String(repeating: Self.get(path), count: 1000).utf8)
        let flood = Task { await offPool { client.flood(chunk, total: 25 * 1024 * 1024, for: .seconds(8)) } }

        var peak = baseline
        var slowest = Duration.zero
        var unanswered = 0
        for _ in 0..<8 {
          try await Task.sleep(for: .milliseconds(500))
          // Not answered within the harness's 10 s counts as a failure, but the memory is still measured.
          if let (took, status) = try? await Self.timedRequest(port: port, path: path, scope: scope) {
            #expect(status == 200)
            slowest = max(slowest, took)
          } else {
            unanswered += 1
          }
          peak = max(peak, ProcessMemory.residentBytes(pid: pid) ?? 0)
        }
        let sent = await flood.value
        peak = max(peak, ProcessMemory.residentBytes(pid: pid) ?? 0)
        let growth = peak - baseline
        print(
          "\(kind) port: flood sent \(sent) bytes; RSS \(baseline) -> peak \(peak) (+\(growth)); slowest other client \(slowest), \(unanswered) not answered in 10 s"
        )
        #expect(
          growth < Self.memoryBudget,
          "RSS grew by \(growth) bytes (budget \(Self.memoryBudget)) while a client pipelined \(sent) bytes without reading")
        // A liveness bound, not a speed one: the flooding connection is served (into the kernel's
        // send buffer, several MB) as fast as the CPU allows, on a loaded two-core machine.
        #expect(unanswered == 0 && slowest < .seconds(10), "other clients: \(unanswered) unanswered, slowest \(slowest)")
        #expect(augmenter.process.isRunning)
      }
    }

    @Test("a request head sent at one byte per 200 ms is answered 408 and closed at request_head_timeout")
    func slowHeadIsClosed() async throws {
      try await withTestScope { scope in
        let augmenter = try await Self.start(scope, extraLines: ["http1: {request_head_timeout: 1s}"])
        let connection = try await RawConnection.connect(port: augmenter.checkPort, scope: scope)
        let head = Array((Self.get("/slow") + String(repeating: "x-pad: slow\r\n", count: 10)).utf8)
        let start = ContinuousClock.now
        var closedAfter: Duration?
        for byte in head {
          await connection.write([byte])
          if connection.isClosed {
            closedAfter = ContinuousClock.now - start
            break
          }
          if ContinuousClock.now - start > .seconds(8) { break }
          try await Task.sleep(for: .milliseconds(200))
        }
        if closedAfter == nil, await connection.waitForClose(timeout: .seconds(2)) {
          closedAfter = ContinuousClock.now - start
        }
        let elapsed = try #require(closedAfter, "still open \(ContinuousClock.now - start) after the first byte (request_head_timeout 1s)")
        #expect(elapsed > .milliseconds(800) && elapsed < .seconds(3), "closed after \(elapsed)")
        let responses = try RawHTTPResponse.parseAll(connection.received).responses
        #expect(responses.count == 1 && responses.first?.status == 408, "\(responses)")
        #expect(responses.first?.header("connection") == "close")
        #expect(augmenter.process.log().contains("request_head_timeout"))
      }
    }

    @Test("at the descriptor limit the listener backs off instead of spinning, and serves again after")
    func descriptorExhaustionDoesNotSpin() async throws {
      try await withTestScope { scope in
        let augmenter = try await Self.start(scope, launcher: ["prlimit", "--nofile=64:64"])
        let pid = augmenter.process.pid
        var held: [RawConnection] = []
        for _ in 0..<100 {
          held.append(try await RawConnection.connect(port: augmenter.checkPort, scope: scope))
        }
        // Accepting stops at the limit; the rest wait in the backlog.
        try await eventually("augmenter to reach its descriptor limit", timeout: .seconds(10)) {
          (ProcessMemory.openDescriptors(pid: pid) ?? 0) >= 60 ? true : nil
        }
        try await Task.sleep(for: .milliseconds(500))
        let before = try #require(cpuSeconds(pid: pid))
        try await Task.sleep(for: .seconds(2))
        let after = try #require(cpuSeconds(pid: pid))
        let share = (after - before) / 2
        print("CPU at the descriptor limit: \(Int(share * 100)) % of a core; descriptors \(ProcessMemory.openDescriptors(pid: pid) ?? -1)")
        #expect(share < 0.3, "augmenter used \(Int(share * 100)) % of a core while at its descriptor limit")
        #expect(augmenter.process.log().contains("pausing accepts"))

        for connection in held { connection.close() }
        held = []
        // Any answer will do: the provider fetch may have failed for want of a descriptor (503).
        let served = try await eventually("a new client to be served once descriptors are free", timeout: .seconds(15)) {
          try? await Self.timedRequest(port: augmenter.checkPort, path: "/after-exhaustion", scope: scope)
        }
        print("served (status \(served.1)) in \(served.0) after the descriptors were freed")
        #expect(augmenter.process.isRunning)
      }
    }

    @Test("max_connections: the connection past the limit waits until one closes; the first ones are served")
    func maxConnections() async throws {
      try await withTestScope { scope in
        let limit = 4
        let augmenter = try await Self.start(scope, extraLines: ["max_connections: \(limit)"])
        var open: [RawConnection] = []
        for index in 0..<limit {
          let connection = try await RawConnection.connect(port: augmenter.checkPort, scope: scope)
          await connection.write(Self.get("/first-\(index)"))
          let (responses, _) = try await connection.responses(1)
          #expect(responses[0].status == 200, "\(responses[0])")
          open.append(connection)
        }
        let extra = try await RawConnection.connect(port: augmenter.checkPort, scope: scope)
        await extra.write(Self.get("/extra"))
        try await Task.sleep(for: .milliseconds(1500))
        #expect(extra.received.isEmpty, "the connection past max_connections was served")
        // The open ones keep being served, and the admin listener has its own limit.
        await open[1].write(Self.get("/again"))
        #expect(try await open[1].responses(2).responses[1].status == 200)
        #expect(try await augmenter.admin("/healthz").status == 200)

        open[0].close()
        let (responses, _) = try await extra.responses(1, timeout: .seconds(5))
        #expect(responses[0].status == 200, "\(responses[0])")
        #expect(augmenter.process.log().contains("max_connections reached"))
      }
    }
  }
}
