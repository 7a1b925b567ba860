// Which kind of answer a decision is and which rule gave it (what the check metrics count).

import AugmenterCore
import Foundation
import Testing

@Suite("Decision outcomes")
struct DecisionOutcomeTests {
  let now = MonotonicInstant(nanoseconds: 1_000_000_000_000)

  static let policy = """
    providers:
      - name: sidecar
        url: http://127.0.0.1:1/h
    profiles:
      p: {headers: {x-p: p}}
    rules:
      - name: limited
        match: {path_prefix: /limited/}
        rate_limit: {requests_per_second: 1, burst: 1}
      - match: {path_prefix: /deny/}
        deny: {status: 403}
      - name: moved
        match: {path_prefix: /old/}
        redirect: {status: 302, location: "https://new.example{path}"}
      - name: tenant
        match: {path_prefix: /tenant/}
        allow: {profile: p}
    """

  func request(_ path: String) -> CheckRequestAttributes {
    CheckRequestAttributes(method: "GET", path: path, authority: "a.example", scheme: "http", requestID: nil)
  }

  func outcome(_ decider: Decider, _ path: String) -> DecisionOutcome {
    var outcome = DecisionOutcome.error
    _ = decider.decide(request(path), at: now, outcome: &outcome)
    return outcome
  }

  @Test("sources: one per rule (its name, else its index) then default, with the kinds each can give")
  func sources() throws {
    let config = try ConfigLoader.parse(Self.policy, environment: [:])
    #expect(
      DecisionOutcome.sources(of: config) == [
        .init(rule: "limited", profile: "", kinds: [.rateLimited]),
        .init(rule: "1", profile: "", kinds: [.deny]),
        .init(rule: "moved", profile: "", kinds: [.redirect]),
        .init(rule: "tenant", profile: "p", kinds: [.allow, .unavailable]),
        .init(rule: "default", profile: "", kinds: [.allow, .unavailable]),
      ])
    #expect(Decider(config: config, registry: ProviderRegistry(config: config)).outcomeSources == DecisionOutcome.sources(of: config))
  }

  @Test("each rule's decision names its kind and its rule; a rate limit let through goes on to the next")
  func decisions() throws {
    let config = try ConfigLoader.parse(Self.policy, environment: [:])
    let registry = ProviderRegistry(config: config)
    let decider = Decider(config: config, registry: registry)
    #expect(outcome(decider, "/tenant/x") == DecisionOutcome(kind: .unavailable, source: 3))
    registry.states[0].publish([HeaderField(name: "x-a", value: "1")], fetchedAt: now, fetchedAtWall: Date())
    #expect(outcome(decider, "/tenant/x") == DecisionOutcome(kind: .allow, source: 3))
    #expect(outcome(decider, "/deny/x") == DecisionOutcome(kind: .deny, source: 1))
    #expect(outcome(decider, "/old/x") == DecisionOutcome(kind: .redirect, source: 2))
    #expect(outcome(decider, "/limited/x") == DecisionOutcome(kind: .allow, source: 4), "under the limit: default")
    #expect(outcome(decider, "/limited/x") == DecisionOutcome(kind: .rateLimited, source: 0))
    #expect(outcome(decider, "/other") == DecisionOutcome(kind: .allow, source: 4))
  }

  @Test("without rules every decision is the default's: allow, or unavailable")
  func policyFree() throws {
    let config = try ConfigLoader.parse("providers:\n  - name: sidecar\n    url: http://127.0.0.1:1/h\n", environment: [:])
    let registry = ProviderRegistry(config: config)
    let decider = Decider(config: config, registry: registry)
    #expect(DecisionOutcome.sources(of: config) == [.init(rule: "default", profile: "", kinds: [.allow, .unavailable])])
    #expect(outcome(decider, "/") == DecisionOutcome(kind: .unavailable, source: 0))
    registry.states[0].publish([HeaderField(name: "x-a", value: "1")], fetchedAt: now, fetchedAtWall: Date())
    #expect(outcome(decider, "/") == DecisionOutcome(kind: .allow, source: 0))
  }
}
