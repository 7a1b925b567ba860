// The decision: merge order, clash rules, the 503 problem document, policies, readiness.

import AugmenterCore
import Foundation
import Testing

@Suite("Decider and registry")
struct DeciderTests {
  let request = CheckRequestAttributes(method: "GET", path: "/a", authority: "app", scheme: "http", requestID: "req-42")
  let now = MonotonicInstant(nanoseconds: 1_000_000_000_000)
  let wall = Date(timeIntervalSince1970: 1_700_000_000)

  func config(
    providers: [ProviderConfig],
    headers: [HeaderField] = [],
    onUnavailable: UnavailablePolicy = .deny
  ) -> AugmenterConfig {
    AugmenterConfig(providers: providers, headers: headers, onUnavailable: onUnavailable)
  }

  func publish(_ registry: ProviderRegistry, _ name: String, _ headers: [(String, String)], at instant: MonotonicInstant? = nil) {
    registry.state(named: name)!.publish(
      headers.map { HeaderField(name: $0.0, value: $0.1) }, fetchedAt: instant ?? now, fetchedAtWall: wall)
  }

  func allowed(_ decision: Decision) -> [HeaderField]? {
    if case .allow(let headers) = decision { return headers }
    return nil
  }

  @Test("providers in order, a later provider wins a clash, static headers win over all")
  func mergeOrder() {
    let config = config(
      providers: [ProviderConfig(name: "a", url: "http://a/h"), ProviderConfig(name: "b", url: "http://b/h")],
      headers: [HeaderField(name: "x-shared", value: "static"), HeaderField(name: "x-s", value: "s")])
    let registry = ProviderRegistry(config: config)
    publish(registry, "a", [("x-a", "1"), ("x-shared", "from-a"), ("x-ab", "from-a")])
    publish(registry, "b", [("x-ab", "from-b"), ("x-shared", "from-b"), ("x-b", "2")])
    let decider = Decider(config: config, registry: registry)

    #expect(
      allowed(decider.decide(request, at: now)) == [
        HeaderField(name: "x-a", value: "1"), HeaderField(name: "x-shared", value: "static"),
        HeaderField(name: "x-ab", value: "from-b"), HeaderField(name: "x-b", value: "2"), HeaderField(name: "x-s", value: "s"),
      ])
  }

  @Test("a new snapshot or an expiry changes the next decision (nothing stale is cached)")
  func followsSnapshots() {
    let config = config(
      providers: [
        ProviderConfig(name: "a", url: "http://a/h", ttl: .seconds(10)), ProviderConfig(name: "b", url: "http://b/h", ttl: .seconds(100)),
      ],
      onUnavailable: .allow)
    let registry = ProviderRegistry(config: config)
    let decider = Decider(config: config, registry: registry)
    publish(registry, "a", [("x-a", "1")])
    publish(registry, "b", [("x-b", "1")])
    #expect(allowed(decider.decide(request, at: now)) == [HeaderField(name: "x-a", value: "1"), HeaderField(name: "x-b", value: "1")])
    #expect(allowed(decider.decide(request, at: now)) == [HeaderField(name: "x-a", value: "1"), HeaderField(name: "x-b", value: "1")])

    publish(registry, "b", [("x-b", "2")])
    #expect(allowed(decider.decide(request, at: now)) == [HeaderField(name: "x-a", value: "1"), HeaderField(name: "x-b", value: "2")])

    // a expires at now + 10s; b is still usable.
    #expect(allowed(decider.decide(request, at: now + .seconds(10))) == [HeaderField(name: "x-b", value: "2")])
    // A copy of the decider sees the same thing.
    let copy = decider
    #expect(allowed(copy.decide(request, at: now + .seconds(11))) == [HeaderField(name: "x-b", value: "2")])
  }

  @Test("deny: 503 application/problem+json naming the unavailable required providers")
  func denyProblemDocument() throws {
    let config = config(providers: [
      ProviderConfig(name: "sidecar", url: "http://a/h"), ProviderConfig(name: "ok", url: "http://b/h"),
      ProviderConfig(name: "other", url: "http://c/h"),
    ])
    let registry = ProviderRegistry(config: config)
    publish(registry, "ok", [("x-ok", "1")])
    let decision = Decider(config: config, registry: registry).decide(request, at: now)
    guard case .deny(let answer) = decision else {
      Issue.record("expected deny, got \(decision)")
      return
    }
    #expect(answer.status == 503)
    #expect(answer.headers == [HeaderField(name: "content-type", value: "application/problem+json")])
    let object = try #require(try JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as? [String: Any])
    #expect(object["type"] as? String == "about:blank")
    #expect(object["title"] as? String == "Service Unavailable")
    #expect(object["status"] as? Int == 503)
    #expect(object["detail"] as? String == "required header provider(s) unavailable: sidecar, other")
    #expect(object["instance"] as? String == "req-42")
    #expect(object.count == 5)
  }

  @Test("deny without a request id has no instance; odd request ids are escaped")
  func denyInstance() throws {
    let config = config(providers: [ProviderConfig(name: "sidecar", url: "http://a/h")])
    let decider = Decider(config: config, registry: ProviderRegistry(config: config))
    for requestID in [nil, "a\"b\\c\n\u{1}é"] as [String?] {
      var request = request
      request.requestID = requestID
      guard case .deny(let answer) = decider.decide(request, at: now) else {
        Issue.record("expected deny")
        continue
      }
      let object = try #require(try JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as? [String: Any])
      #expect(object["instance"] as? String == requestID)
    }
  }

  @Test("allow policy: whatever is usable plus static headers, even with nothing usable")
  func allowPolicy() {
    let config = config(
      providers: [ProviderConfig(name: "a", url: "http://a/h"), ProviderConfig(name: "b", url: "http://b/h")],
      headers: [HeaderField(name: "x-static", value: "s")], onUnavailable: .allow)
    let registry = ProviderRegistry(config: config)
    let decider = Decider(config: config, registry: registry)
    #expect(decider.decide(request, at: now) == .allow(headers: [HeaderField(name: "x-static", value: "s")]))
    publish(registry, "b", [("x-b", "1")])
    #expect(
      decider.decide(request, at: now)
        == .allow(headers: [HeaderField(name: "x-b", value: "1"), HeaderField(name: "x-static", value: "s")]))
  }

  @Test("a provider that is not required neither denies nor blocks readiness, but contributes when usable")
  func notRequired() {
    let config = config(providers: [
      ProviderConfig(name: "must", url: "http://a/h"), ProviderConfig(name: "nice", url: "http://b/h", required: false),
    ])
    let registry = ProviderRegistry(config: config)
    let decider = Decider(config: config, registry: registry)
    publish(registry, "must", [("x-must", "1")])
    #expect(registry.isReady(at: now))
    #expect(decider.decide(request, at: now) == .allow(headers: [HeaderField(name: "x-must", value: "1")]))
    publish(registry, "nice", [("x-nice", "1")])
    #expect(
      decider.decide(request, at: now)
        == .allow(headers: [HeaderField(name: "x-must", value: "1"), HeaderField(name: "x-nice", value: "1")]))
  }

  @Test("readiness: every required provider usable")
  func readiness() {
    let config = config(providers: [
      ProviderConfig(name: "a", url: "http://a/h", ttl: .seconds(10), maxStale: .seconds(5)),
      ProviderConfig(name: "b", url: "http://b/h"),
    ])
    let registry = ProviderRegistry(config: config)
    #expect(!registry.isReady(at: now))
    #expect(registry.unavailableRequiredProviders(at: now) == ["a", "b"])
    publish(registry, "a", [("x-a", "1")])
    #expect(!registry.isReady(at: now))
    publish(registry, "b", [])
    #expect(registry.isReady(at: now))
    #expect(registry.isReady(at: now + .seconds(14)))
    #expect(!registry.isReady(at: now + .seconds(15)))
    #expect(registry.unavailableRequiredProviders(at: now + .seconds(15)) == ["a"])
    #expect(ProviderRegistry(config: self.config(providers: [])).isReady(at: now))
  }

  @Test("no providers: static headers only")
  func staticOnly() {
    let config = config(providers: [], headers: [HeaderField(name: "x-a", value: "a")])
    #expect(
      Decider(config: config, registry: ProviderRegistry(config: config)).decide(request, at: now)
        == .allow(headers: [HeaderField(name: "x-a", value: "a")]))
  }
}
