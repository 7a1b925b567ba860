// What a reload keeps, starts, stops and reports: providers by settings, rate-limit buckets by
// rule, keys that need a restart; and the one-pointer swap checks read through.

import AugmenterCore
import Foundation
import Synchronization
import Testing

/// A published object whose two fields must always agree: a torn read would show them apart.
private final class Generation: Sendable {
  let number: Int
  let copy: Int
  init(_ number: Int) {
    self.number = number
    self.copy = number
  }
}

@Suite("Configuration reload: diffing and the atomic swap")
struct ConfigReloadDiffTests {
  let now = MonotonicInstant(nanoseconds: 1_000_000_000_000)
  let wall = Date(timeIntervalSince1970: 1_700_000_000)

  func config(_ yaml: String) throws -> AugmenterConfig {
    try ConfigLoader.parse(yaml, environment: [:])
  }

  func request(path: String = "/a") -> CheckRequestAttributes {
    CheckRequestAttributes(
      method: "GET", path: path, authority: "api.example", scheme: "http", requestID: "r", headers: RequestHeaders([:]),
      sourceAddress: "127.0.0.1", destinationAddress: "10.0.0.5", contextExtensions: [:])
  }

  func isLimited(_ decision: Decision) -> Bool {
    if case .deny(let answer) = decision { return answer.status == 429 }
    return false
  }

  @Test("providers: unchanged ones keep their state (and headers); changed ones restart; added start; removed stop")
  func providerChanges() throws {
    let old = try config(
      """
      providers:
        - {name: kept, url: "http://127.0.0.1:1/a", ttl: 60s}
        - {name: changed, url: "http://127.0.0.1:1/b", ttl: 60s}
        - {name: removed, url: "http://127.0.0.1:1/c", ttl: 60s}
      """)
    let new = try config(
      """
      headers: {x-new: "1"}
      providers:
        - {name: added, url: "http://127.0.0.1:1/d", ttl: 60s}
        - {name: kept, url: "http://127.0.0.1:1/a", ttl: 60s}
        - {name: changed, url: "http://127.0.0.1:1/b", ttl: 30s}
      """)
    let before = ProviderRegistry(config: old)
    before.state(named: "kept")!.publish([HeaderField(name: "x-kept", value: "v")], fetchedAt: now, fetchedAtWall: wall)
    before.state(named: "changed")!.publish([HeaderField(name: "x-changed", value: "v")], fetchedAt: now, fetchedAtWall: wall)

    let after = ProviderRegistry(config: new, previous: before)
    let changes = after.changes(from: before)
    #expect(changes.names.kept == ["kept"])
    #expect(changes.names.started == ["added", "changed"])
    #expect(changes.names.stopped == ["changed", "removed"])
    #expect(after.states.map(\.config.name) == ["added", "kept", "changed"], "the new configuration's order")
    #expect(after.state(named: "kept") === before.state(named: "kept"), "the same state: its refresher keeps publishing to it")
    #expect(after.state(named: "kept")!.usableHeaders(at: now) == [HeaderField(name: "x-kept", value: "v")])
    #expect(after.state(named: "changed")!.snapshot == nil, "new settings start over")
    #expect(after.state(named: "added")!.snapshot == nil)

    // A decider of the new configuration serves the kept provider's headers at once.
    let decider = Decider(config: new, registry: after)
    after.state(named: "added")!.publish([HeaderField(name: "x-added", value: "v")], fetchedAt: now, fetchedAtWall: wall)
    after.state(named: "changed")!.publish([HeaderField(name: "x-changed", value: "w")], fetchedAt: now, fetchedAtWall: wall)
    guard case .allow(let headers) = decider.decide(request(), at: now) else {
      Issue.record("expected an allow")
      return
    }
    #expect(headers.map(\.name) == ["x-added", "x-kept", "x-changed", "x-new"])
  }

  @Test("an unchanged configuration keeps every provider; none starts or stops")
  func nothingChanged() throws {
    let yaml = """
      providers:
        - {name: a, url: "http://127.0.0.1:1/a"}
        - {name: b, url: "http://127.0.0.1:1/b"}
      """
    let before = ProviderRegistry(config: try config(yaml))
    let after = ProviderRegistry(config: try config(yaml), previous: before)
    let changes = after.changes(from: before)
    #expect(changes.names.kept == ["a", "b"])
    #expect(changes.started.isEmpty && changes.stopped.isEmpty)
  }

  @Test("rate limits: an unchanged rule keeps its buckets across a reload; a changed or new one starts full")
  func rateLimitBucketsKept() throws {
    let old = try config(
      """
      rules:
        - name: kept
          match: {path_prefix: /kept/}
          rate_limit: {requests_per_second: 0.001, burst: 2}
        - name: changed
          match: {path_prefix: /changed/}
          rate_limit: {requests_per_second: 0.001, burst: 2}
      """)
    let new = try config(
      """
      headers: {x-version: "2"}
      rules:
        - name: fresh
          match: {path_prefix: /fresh/}
          rate_limit: {requests_per_second: 0.001, burst: 1}
        - name: changed
          match: {path_prefix: /changed/}
          rate_limit: {requests_per_second: 0.001, burst: 3}
        - name: kept
          match: {path_prefix: /kept/}
          rate_limit: {requests_per_second: 0.001, burst: 2}
      """)
    let registry = ProviderRegistry(config: old)
    let before = Decider(config: old, registry: registry)
    for path in ["/kept/x", "/changed/x"] {
      for _ in 0..<2 { #expect(!isLimited(before.decide(request(path: path), at: now))) }
      #expect(isLimited(before.decide(request(path: path), at: now)), "\(path): the burst is used up")
    }

    let after = Decider(config: new, registry: ProviderRegistry(config: new, previous: registry), previous: before)
    #expect(isLimited(after.decide(request(path: "/kept/x"), at: now)), "the kept rule's bucket is still empty")
    #expect(!isLimited(after.decide(request(path: "/changed/x"), at: now)), "a changed rule starts with a full bucket")
    let kept = after.rateLimiters.filter { entry in before.rateLimiters.contains { $0.limiter === entry.limiter } }
    #expect(kept.map { after.outcomeSources[$0.rule].rule } == ["kept"])
  }

  @Test("restart-required keys: listen addresses, TLS listeners and connection limits are reported; the rest applies")
  func restartRequiredKeys() throws {
    let old = try config(
      """
      listen: 127.0.0.1:9000
      http2: {max_concurrent_streams: 100}
      headers: {x-a: "1"}
      providers: [{name: a, url: "http://127.0.0.1:1/a"}]
      """)
    let new = try config(
      """
      listen: 127.0.0.1:9001
      admin_listen: 127.0.0.1:9902
      http2: {max_concurrent_streams: 200, initial_window_size: 65535}
      log_level: debug
      headers: {x-a: "2"}
      providers: [{name: b, url: "http://127.0.0.1:1/b"}]
      rules: [{match: {path_prefix: /x/}, deny: {status: 403}}]
      """)
    #expect(
      AugmenterConfig.restartRequiredChanges(from: old, to: new) == [
        "listen", "admin_listen", "http2.max_concurrent_streams", "http2.initial_window_size", "log_level",
      ])
    #expect(AugmenterConfig.restartRequiredChanges(from: old, to: old).isEmpty)
  }

  @Test("each key's reload behaviour is declared once, with the key, and the reference shows it")
  func liveDeclarations() {
    func restartKeys(_ docs: [ConfigKeyDoc], _ path: String = "") -> [String] {
      docs.flatMap { doc -> [String] in
        let keyPath = path.isEmpty ? doc.name : "\(path).\(doc.name)"
        return (doc.live ? [] : [keyPath]) + (doc.shape == .mapping && doc.live ? restartKeys(doc.children, keyPath) : [])
      }
    }
    #expect(
      restartKeys(ConfigReference.keys) == [
        "listen", "admin_listen", "grpc.max_message_bytes", "http2.max_concurrent_streams",
        "http2.initial_window_size", "http2.idle_timeout", "http2.max_outbound_control_frames",
        "http2.max_buffered_request_bytes", "http2.max_request_body_bytes", "http1.request_head_timeout",
        "http1.request_body_timeout", "http1.max_pipelined_requests", "http1.max_request_body_bytes",
        "shutdown_grace_period", "idle_timeout", "log_level", "log_format", "tls", "admin_tls", "max_connections", "drain_delay",
      ])
    let reference = ConfigReference.markdown()
    let listenRow = reference.split(separator: "\n").first { $0.hasPrefix("| `listen` |") }
    #expect(listenRow?.contains("*Restart required.*") == true)
    let providersRow = reference.split(separator: "\n").first { $0.hasPrefix("| `providers[]` |") }
    #expect(providersRow?.contains("Restart required") == false)
  }

  @Test("the swap is atomic: concurrent readers see whole configurations, in publication order")
  func atomicSwap() async {
    let published = Published(Generation(0))
    let writes = 2000
    // Each reader returns how many torn and backward reads it saw.
    let (torn, backwards) = await withTaskGroup(of: (Int, Int).self) { group in
      for _ in 0..<4 {
        group.addTask {
          var (last, torn, backwards) = (0, 0, 0)
          while last < writes {
            let seen = published.value
            if seen.number != seen.copy { torn += 1 }
            if seen.number < last { backwards += 1 }
            last = seen.number
            await Task.yield()
          }
          return (torn, backwards)
        }
      }
      group.addTask {
        for number in 1...writes {
          let previous = published.replace(with: Generation(number))
          #expect(previous.number == number - 1, "replace returns the object it replaced")
          if number % 100 == 0 { await Task.yield() }
        }
        return (0, 0)
      }
      return await group.reduce((0, 0)) { ($0.0 + $1.0, $0.1 + $1.1) }
    }
    #expect(torn == 0)
    #expect(backwards == 0)
    #expect(published.value.number == writes)
  }
}
