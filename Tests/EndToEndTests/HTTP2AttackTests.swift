//===----------------------------------------------------------------------===//
// End-to-end tests: HTTP/2 attacks: control-frame floods, idle connections, oversized length prefixes.
//===----------------------------------------------------------------------===//

import Foundation
import TestCertificates
import TestSupport
import Testing

extension EndToEnd {
  /// HTTP/2 peers that misbehave on purpose, against the real binary: control-frame floods from
  /// a client that never reads, silent connections, a gRPC message announcing too much.
  @Suite("HTTP/2 attacks: control-frame floods, idle connections, oversized length prefixes")
  struct HTTP2Attacks {
    enum Port: String, CaseIterable, Sendable {
      case check, admin
    }

    enum Flood: String, CaseIterable, Sendable {
      case ping = "PING"
      case settings = "SETTINGS"

      var frame: [UInt8] { self == .ping ? NonReadingFlooder.ping : NonReadingFlooder.settings }
    }

    /// How long each flood lasts.
    static let floodDuration = Duration.seconds(8)
    /// What a flood may add to the server's resident memory. Unbounded, a flood of this pace
    /// and length grows it by tens of megabytes (the acknowledgements queue up in the
    /// connection's outbound buffer); bounded, the flooding connection costs its write buffer's
    /// high water mark (64 KiB) and at most `max_outbound_control_frames` queued
    /// acknowledgements, and is closed with GOAWAY ENHANCE_YOUR_CALM. The rest is allocator
    /// noise from connections opened and closed while the flooder reconnects.
    static let rssBudget = 8 << 20
    /// How long another client's health check may take during a flood.
    static let latencyBound = Duration.seconds(1)

    @Test(
      "a client that never reads and floods PING or SETTINGS frames: server memory stays bounded, other clients are served within 1 s",
      arguments: Port.allCases, Flood.allCases)
    func controlFrameFloodFromANonReadingClient(port: Port, flood: Flood) async throws {
      try await withTestScope("controlFrameFlood-\(port.rawValue)-\(flood.rawValue)") { scope in
        let provider = try await TestProvider.start(scope: scope, answer: .headers(["x-a": "provider"]))
        let augmenter = try await AugmenterProcess.start(
          scope: scope, config: AugmenterConfig(providers: [ProviderConfig(url: provider.url)]))
        try await augmenter.waitUntilReady()
        let client = try await GRPCTestClient.connect(port: augmenter.checkPort, scope: scope)
        let healthBody = try Messages.healthBody(service: "")
        // Warm up: the first requests allocate what every later one reuses.
        for _ in 0..<20 {
          _ = try await client.unary(path: GRPCPath.health, body: healthBody)
          _ = try await augmenter.admin("/healthz")
        }
        let pid = augmenter.process.pid
        let before = try #require(ProcessMemory.residentBytes(pid: pid))

        let target = port == .check ? augmenter.checkPort : augmenter.adminPort
        let flooding = Task {
          await NonReadingFlooder.run(port: target, frame: flood.frame, duration: Self.floodDuration)
        }
        let clock = ContinuousClock()
        let floodEnd = clock.now + Self.floodDuration
        var slowest = Duration.zero
        var peak = before
        var probes = 0
        while clock.now < floodEnd {
          try await Task.sleep(for: .milliseconds(250))
          let start = clock.now
          let health = try await client.unary(path: GRPCPath.health, body: healthBody, timeout: .seconds(5))
          let admin = try await augmenter.admin("/healthz")
          let took = clock.now - start
          probes += 1
          slowest = max(slowest, took)
          #expect(health.grpcStatus == 0, "gRPC health check during the flood: \(health)")
          #expect(admin.status == 200, "/healthz during the flood: \(admin)")
          peak = max(peak, ProcessMemory.residentBytes(pid: pid) ?? 0)
        }
        let outcome = await flooding.value
        peak = max(peak, ProcessMemory.residentBytes(pid: pid) ?? 0)
        let growth = peak - before
        print(
          "\(flood.rawValue) flood on the \(port.rawValue) port: RSS \(before >> 10) KiB -> peak \(peak >> 10) KiB (+\(growth >> 10) KiB); slowest probe \(slowest) over \(probes); flooder: \(outcome)"
        )
        #expect(outcome.bytesSent > 0)
        #expect(
          growth < Self.rssBudget,
          "a \(flood.rawValue) flood on the \(port.rawValue) port grew the server's RSS by \(growth >> 10) KiB (budget \(Self.rssBudget >> 10) KiB); flooder: \(outcome)"
        )
        #expect(slowest < Self.latencyBound, "slowest health probe during the flood took \(slowest)")
        #expect(augmenter.process.isRunning)
        Self.expectFloodsLogged(closed: outcome.closedByServer, log: augmenter.process.log())
      }
    }

    @Test(
      "h2 over TLS: a client that never reads and floods PING frames: server memory stays bounded, other TLS clients are served within 1 s")
    func pingFloodOverTLS() async throws {
      try await withTestScope { scope in
        let tls = try await TLSAugmenter.start(scope: scope)
        let client = try await tls.connect(scope: scope)
        let healthBody = try Messages.healthBody(service: "")
        for _ in 0..<20 {
          _ = try await client.unary(path: GRPCPath.health, body: healthBody)
        }
        let pid = tls.augmenter.process.pid
        let before = try #require(ProcessMemory.residentBytes(pid: pid))
        let clientTLS = try TestTLS.clientConfiguration(ca: tls.pki.caPath)
        let checkPort = tls.augmenter.checkPort
        let floods = (0..<4).map { _ in
          Task {
            try await NonReadingTLSFlooder.run(
              port: checkPort, tls: clientTLS, frame: NonReadingFlooder.ping, duration: Self.floodDuration)
          }
        }
        let clock = ContinuousClock()
        let floodEnd = clock.now + Self.floodDuration
        var slowest = Duration.zero
        var peak = before
        while clock.now < floodEnd {
          try await Task.sleep(for: .milliseconds(250))
          let start = clock.now
          let health = try await client.unary(path: GRPCPath.health, body: healthBody, timeout: .seconds(5))
          slowest = max(slowest, clock.now - start)
          #expect(health.grpcStatus == 0, "gRPC health check over TLS during the flood: \(health)")
          peak = max(peak, ProcessMemory.residentBytes(pid: pid) ?? 0)
        }
        var outcomes: [NonReadingFlooder.Outcome] = []
        for flood in floods { outcomes.append(try await flood.value) }
        peak = max(peak, ProcessMemory.residentBytes(pid: pid) ?? 0)
        let growth = peak - before
        print(
          "PING flood over TLS: RSS \(before >> 10) KiB -> peak \(peak >> 10) KiB (+\(growth >> 10) KiB); slowest probe \(slowest); flooders: \(outcomes)"
        )
        #expect(outcomes.allSatisfy { $0.bytesSent > 0 }, "\(outcomes)")
        #expect(growth < Self.rssBudget, "a PING flood over TLS grew the server's RSS by \(growth >> 10) KiB; flooders: \(outcomes)")
        #expect(slowest < Self.latencyBound, "slowest health probe during the flood took \(slowest)")
        #expect(tls.augmenter.process.isRunning)
        Self.expectFloodsLogged(closed: outcomes.map(\.closedByServer).reduce(0, +), log: tls.augmenter.process.log())
      }
    }

    @Test("a silent h2c connection is closed after http2.idle_timeout with a notice GOAWAY, then the final one", arguments: Port.allCases)
    func silentConnectionIsClosedAfterTheIdleTimeout(port: Port) async throws {
      try await withTestScope("silentConnection-\(port.rawValue)") { scope in
        let provider = try await TestProvider.start(scope: scope, answer: .headers(["x-a": "provider"]))
        var config = AugmenterConfig(providers: [ProviderConfig(url: provider.url)])
        config.extraLines = ["http2: {idle_timeout: 1s}"]
        let augmenter = try await AugmenterProcess.start(scope: scope, config: config)
        let connection = try await RawConnection.connect(
          port: port == .check ? augmenter.checkPort : augmenter.adminPort, scope: scope)
        await connection.write(NonReadingFlooder.preface)
        let start = ContinuousClock.now
        // 1 s idle, then at most 1 s for the PING this client never answers, plus slack.
        let closed = await connection.waitForClose(timeout: .seconds(5))
        let took = ContinuousClock.now - start
        #expect(closed, "the silent connection was still open after \(took)")
        #expect(took >= .milliseconds(900), "closed after \(took), before the 1 s idle timeout")
        let goAways = Self.goAwayLastStreamIDs(connection.received)
        #expect(goAways == [0x7FFF_FFFF, 0], "GOAWAYs (last stream ids) received: \(goAways)")
        #expect(augmenter.process.log().contains("HTTP/2 connection idle"), "the close should be logged")
      }
    }

    @Test("a gRPC message whose length prefix declares 10 MiB is refused with RESOURCE_EXHAUSTED before its body arrives")
    func oversizedLengthPrefixIsRefusedAtOnce() async throws {
      try await withTestScope { scope in
        let provider = try await TestProvider.start(scope: scope, answer: .headers(["x-a": "provider"]))
        let augmenter = try await AugmenterProcess.start(
          scope: scope, config: AugmenterConfig(providers: [ProviderConfig(url: provider.url)]))
        try await augmenter.waitUntilReady()
        let client = try await GRPCTestClient.connect(port: augmenter.checkPort, scope: scope)
        let call = try await client.openStream(path: GRPCPath.check)
        let start = ContinuousClock.now
        try await call.send([0, 0, 0xA0, 0, 0] + Array(repeating: 0x41, count: 16), endStream: false)
        let response = try await call.response(timeout: .seconds(3))
        let took = ContinuousClock.now - start
        #expect(response.grpcStatus == 8, "\(response)")
        #expect(response.grpcMessage?.contains("maximum message size") == true, "\(response)")
        #expect(response.complete, "\(response)")
        #expect(took < .seconds(1), "answered after \(took)")
        // The connection stays good.
        let next = try await client.unary(path: GRPCPath.check, body: try Messages.checkBody())
        #expect(next.grpcStatus == 0, "\(next)")
      }
    }

    @Test("http2.max_request_body_bytes: an h2c HTTP-mode body at the limit is checked, one byte over gets 413")
    func requestBodyLimitIsItsOwnSetting() async throws {
      try await withTestScope { scope in
        // grpc.max_message_bytes stays at its 4 MiB default: only the HTTP/2 key can refuse 17 bytes.
        var config = AugmenterConfig(providers: [], staticHeaders: ["x-static": "yes"])
        config.extraLines = ["http2:", "  max_request_body_bytes: 16"]
        let augmenter = try await AugmenterProcess.start(scope: scope, config: config)
        try await augmenter.waitUntilReady()
        let url = "http://127.0.0.1:\(augmenter.checkPort)/ext-authz/body"
        for (size, expected) in [(16, 200), (17, 413)] {
          let result = try await Curl.get(
            url, options: ["--http2-prior-knowledge", "--data-binary", String(repeating: "b", count: size)], scope: scope)
          #expect(result.httpVersion == "2", "\(result)")
          #expect(result.status == expected, "a \(size)-byte body under http2.max_request_body_bytes: 16: \(result)")
        }
      }
    }

    /// A flooding connection the server closed must be closed for being a flood, said in one
    /// warning line (GOAWAY ENHANCE_YOUR_CALM), not as a bare library error. (Whether the server
    /// closes one at all depends on timing: while it holds a non-reading peer's reads, the peer
    /// just stalls.)
    static func expectFloodsLogged(closed: Int, log: String, sourceLocation: SourceLocation = #_sourceLocation) {
      guard closed > 0 else { return }
      let warnings = log.split(separator: "\n").filter { $0.contains("warning") && $0.contains("HTTP/2 connection flooded") }
      #expect(
        !warnings.isEmpty, "\(closed) flooding connection(s) closed without a flood warning in the log", sourceLocation: sourceLocation)
      #expect(warnings.allSatisfy { $0.contains("ENHANCE_YOUR_CALM") }, "\(warnings.prefix(3))", sourceLocation: sourceLocation)
    }

    /// The last-stream-id of every GOAWAY frame in `bytes` (the server's side of an h2c connection).
    static func goAwayLastStreamIDs(_ bytes: [UInt8]) -> [UInt32] {
      var ids: [UInt32] = []
      var offset = 0
      while offset + 9 <= bytes.count {
        let length = Int(bytes[offset]) << 16 | Int(bytes[offset + 1]) << 8 | Int(bytes[offset + 2])
        if bytes[offset + 3] == 0x7, length >= 8, offset + 9 + length <= bytes.count {
          let p = offset + 9
          let id = UInt32(bytes[p]) << 24 | UInt32(bytes[p + 1]) << 16 | UInt32(bytes[p + 2]) << 8 | UInt32(bytes[p + 3])
          ids.append(id & 0x7FFF_FFFF)
        }
        offset += 9 + length
      }
      return ids
    }
  }
}
