// Expiry-aware freshness: a JWT's `exp`, `expires_in` and HTTP cache lifetimes bound what is
// served and when it is refreshed. Pure logic and the refresher on a manual clock.

import AugmenterCore
import Foundation
import Synchronization
import TestSupport
import Testing

/// An unsigned compact JWT whose payload is `claims` (the signature is never read).
func testJWT(_ claims: String) -> String {
  func encoded(_ text: String) -> String {
    Data(text.utf8).base64EncodedString()
      .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
      .replacingOccurrences(of: "=", with: "")
  }
  return encoded(#"{"alg":"RS256","typ":"JWT"}"#) + "." + encoded(claims) + ".c2lnbmF0dXJl"
}

@Suite("JWT expiry")
struct JWTExpiryTests {
  @Test("exp of a JWT and of Bearer <JWT>, fractional seconds kept")
  func readsExp() {
    let jwt = testJWT(#"{"sub":"a","exp":1700000060}"#)
    #expect(JWTExpiry.expiry(ofHeaderValue: jwt) == Date(timeIntervalSince1970: 1_700_000_060))
    #expect(JWTExpiry.expiry(ofHeaderValue: "Bearer \(jwt)") == Date(timeIntervalSince1970: 1_700_000_060))
    #expect(JWTExpiry.expiry(ofHeaderValue: "bearer  \(jwt)") == Date(timeIntervalSince1970: 1_700_000_060))
    #expect(JWTExpiry.expiry(ofHeaderValue: testJWT(#"{"exp":1700000060.5}"#)) == Date(timeIntervalSince1970: 1_700_000_060.5))
  }

  @Test(
    "a malformed or exp-less token is no information",
    arguments: [
      "plain-value", "a.b", "Bearer", "Bearer abc.def", "x.y.z.w.v", "!!!.e30.sig", "eyJhbGciOiJub25lIn0.!!!.sig",
      "eyJhbGciOiJub25lIn0.bm90IGpzb24.sig",
    ])
  func malformed(value: String) {
    #expect(JWTExpiry.expiry(ofHeaderValue: value) == nil)
  }

  @Test("exp that is not a number, or absent, is no information")
  func badExp() {
    #expect(JWTExpiry.expiry(ofHeaderValue: testJWT(#"{"exp":"1700000060"}"#)) == nil)
    #expect(JWTExpiry.expiry(ofHeaderValue: testJWT(#"{"exp":true}"#)) == nil)
    #expect(JWTExpiry.expiry(ofHeaderValue: testJWT(#"{"sub":"a"}"#)) == nil)
    #expect(JWTExpiry.expiry(ofHeaderValue: testJWT(#"[1,2]"#)) == nil)
  }
}

@Suite("HTTP cache lifetime")
struct HTTPCacheLifetimeTests {
  let now = Date(timeIntervalSince1970: 1_700_000_000)

  @Test("max-age, before Expires; zero, no-store and junk are no information")
  func maxAge() {
    #expect(HTTPCacheLifetime.lifetime(cacheControl: "public, max-age=60", expires: nil, date: nil, now: now) == .seconds(60))
    #expect(HTTPCacheLifetime.lifetime(cacheControl: "MAX-AGE=\"30\"", expires: nil, date: nil, now: now) == .seconds(30))
    #expect(
      HTTPCacheLifetime.lifetime(
        cacheControl: "max-age=60", expires: "Tue, 14 Nov 2023 22:23:20 GMT", date: nil, now: now) == .seconds(60))
    #expect(HTTPCacheLifetime.lifetime(cacheControl: "max-age=0", expires: nil, date: nil, now: now) == nil)
    #expect(HTTPCacheLifetime.lifetime(cacheControl: "no-store", expires: nil, date: nil, now: now) == nil)
    #expect(HTTPCacheLifetime.lifetime(cacheControl: "max-age=-5", expires: nil, date: nil, now: now) == nil)
    #expect(HTTPCacheLifetime.lifetime(cacheControl: "max-age=1e3", expires: nil, date: nil, now: now) == nil)
  }

  @Test("Expires is measured from Date, else from now; in the past or unparsable it is no information")
  func expires() {
    // 1_700_000_000 is Tue, 14 Nov 2023 22:13:20 GMT.
    let later = "Tue, 14 Nov 2023 22:15:20 GMT"
    #expect(HTTPCacheLifetime.lifetime(cacheControl: nil, expires: later, date: nil, now: now) == .seconds(120))
    #expect(
      HTTPCacheLifetime.lifetime(cacheControl: "no-cache", expires: later, date: "Tue, 14 Nov 2023 22:14:20 GMT", now: now)
        == .seconds(60))
    #expect(HTTPCacheLifetime.lifetime(cacheControl: nil, expires: "0", date: nil, now: now) == nil)
    #expect(
      HTTPCacheLifetime.lifetime(cacheControl: nil, expires: "Tue, 14 Nov 2023 22:00:00 GMT", date: nil, now: now) == nil)
  }
}

@Suite("Header snapshot lifetime")
struct HeaderSnapshotLifetimeTests {
  let start = MonotonicInstant(nanoseconds: 1_000_000_000_000)
  let wall = Date(timeIntervalSince1970: 1_700_000_000)

  @Test("expires_in minus the skew bounds freshness and use; max_stale never extends it")
  func expiresIn() {
    let snapshot = HeaderSnapshot(
      headers: [HeaderField(name: "authorization", value: "Bearer opaque")], fetchedAt: start, fetchedAtWall: wall,
      ttl: .seconds(100), maxStale: .seconds(1000), expiresIn: .seconds(50), expirySkew: .seconds(10))
    #expect(snapshot.expiresAt == start + .seconds(50))
    #expect(snapshot.expiresAtWall == wall.addingTimeInterval(50))
    #expect(snapshot.freshUntil == start + .seconds(40))
    #expect(snapshot.usableUntil == start + .seconds(40))
    #expect(snapshot.lifetime == .seconds(40))
    #expect(snapshot.isUsable(at: start + .seconds(39)))
    #expect(!snapshot.isUsable(at: start + .seconds(40)))
  }

  @Test("the earliest JWT exp among the values wins; a malformed one is ignored")
  func jwtExp() {
    let headers = [
      HeaderField(name: "authorization", value: "Bearer " + testJWT(#"{"exp":1700000090}"#)),
      HeaderField(name: "x-id-token", value: testJWT(#"{"exp":1700000070}"#)),
      HeaderField(name: "x-other", value: "not.a.jwt"),
    ]
    let snapshot = HeaderSnapshot(
      headers: headers, fetchedAt: start, fetchedAtWall: wall, ttl: .seconds(300), maxStale: .seconds(300),
      expiresIn: .seconds(80), expirySkew: .seconds(30))
    #expect(snapshot.expiresAt == start + .seconds(70))
    #expect(snapshot.usableUntil == start + .seconds(40))
    #expect(snapshot.freshUntil == start + .seconds(40))
  }

  @Test("a cache lifetime caps freshness like ttl, and max_stale extends it")
  func cacheLifetime() {
    let snapshot = HeaderSnapshot(
      headers: [HeaderField(name: "x-a", value: "b")], fetchedAt: start, fetchedAtWall: wall, ttl: .seconds(100),
      maxStale: .seconds(30), cacheLifetime: .seconds(20))
    #expect(snapshot.expiresAt == nil)
    #expect(snapshot.freshUntil == start + .seconds(20))
    #expect(snapshot.usableUntil == start + .seconds(50))
  }

  @Test("without expiry information, ttl and max_stale rule as before")
  func ttlOnly() {
    let snapshot = HeaderSnapshot(
      headers: [HeaderField(name: "x-a", value: "b")], fetchedAt: start, fetchedAtWall: wall, ttl: .seconds(100),
      maxStale: .seconds(30), expirySkew: .seconds(30))
    #expect(snapshot.freshUntil == start + .seconds(100))
    #expect(snapshot.usableUntil == start + .seconds(130))
  }
}

@Suite("Provider refresher and token expiry", .timeLimit(.minutes(1)))
struct ProviderRefresherExpiryTests {
  /// An answer whose `authorization` is a JWT expiring `seconds` after the harness's start.
  static func jwtAnswer(_ harness: RefresherHarness, expiresAfter seconds: Double) -> FetchedAnswer {
    let exp = harness.clock.wallNow().timeIntervalSince1970 + seconds
    return .json(#"{"authorization": "Bearer \#(testJWT(#"{"exp":\#(exp)}"#))"}"#)
  }

  @Test("refreshes at [0.75, 0.9) of the lifetime to exp minus the skew, not of ttl", arguments: [0.0, 0.5, 0.999])
  func refreshAheadOfExp(random: Double) async throws {
    let harness = RefresherHarness([.block], ttl: .seconds(300), random: random, expirySkew: .seconds(10))
    harness.fetcher.append(.answer(Self.jwtAnswer(harness, expiresAfter: 60)))
    let run = Task { await harness.refresher.run() }
    defer { run.cancel() }
    await harness.fetcher.waitForCalls(1)
    harness.fetcher.releaseBlocked(with: Self.jwtAnswer(harness, expiresAfter: 60))

    let deadline = await harness.nextScheduledRefresh(after: harness.start)
    let snapshot = try #require(harness.state.snapshot)
    #expect(snapshot.expiresAt == harness.start + .seconds(60))
    #expect(deadline - harness.start == Duration.nanoseconds(Int64(((0.75 + 0.15 * min(random, 0.999_999_999)) * 50e9).rounded())))
    #expect(deadline - harness.start < .seconds(50))
    let status = harness.state.status(at: harness.start)
    #expect(status.expiresAt == harness.clock.wallOrigin.addingTimeInterval(1060))
  }

  @Test("expires_in from the fetcher bounds the snapshot and the refresh")
  func expiresInAnswer() async throws {
    let answer = FetchedAnswer(status: 200, body: Array(#"{"authorization": "Bearer opaque"}"#.utf8), expiresIn: .seconds(20))
    let harness = RefresherHarness([.answer(answer)], ttl: .seconds(300), random: 0.5, expirySkew: .seconds(4))
    let run = Task { await harness.refresher.run() }
    defer { run.cancel() }
    await harness.fetcher.waitForCalls(1)
    let deadline = await harness.nextScheduledRefresh(after: harness.start)
    #expect(deadline - harness.start == Duration.nanoseconds(Int64((0.825 * 16e9).rounded())))
    #expect(harness.state.snapshot?.usableUntil == harness.start + .seconds(16))
  }

  @Test("IdP down: the last token is served until exp minus skew, never after, whatever max_stale says")
  func idpDown() async throws {
    let harness = RefresherHarness(
      [.block], ttl: .seconds(300), maxStale: .seconds(600), random: 0.5, expirySkew: .seconds(10))
    harness.fetcher.append(.fail(TestFetchError(description: "connection refused")))
    let run = Task { await harness.refresher.run() }
    defer { run.cancel() }
    await harness.fetcher.waitForCalls(1)
    harness.fetcher.releaseBlocked(with: Self.jwtAnswer(harness, expiresAfter: 60))
    let first = await harness.nextScheduledRefresh(after: harness.start)
    harness.clock.advance(to: first)

    // Retries keep failing; walk the clock through them up to and past the expiry.
    var calls = 2
    while harness.clock.now() < harness.start + .seconds(55) {
      await harness.fetcher.waitForCalls(calls)
      let now = harness.clock.now()
      let next = await harness.nextScheduledRefresh(after: now)
      // The back-off is capped at half the 50 s lifetime.
      #expect(next - now <= .seconds(25))
      let usable = harness.state.usableHeaders(at: next) != nil
      #expect(usable == (next < harness.start + .seconds(50)), "at \(next - harness.start)")
      harness.clock.advance(to: next)
      calls += 1
    }
    #expect(harness.state.usableHeaders(at: harness.start + .milliseconds(49_999)) != nil)
    #expect(harness.state.usableHeaders(at: harness.start + .seconds(50)) == nil)
    #expect(!harness.state.status(at: harness.start + .seconds(50)).usable)
  }

  @Test("an answer already within the skew of its exp is rejected and the previous headers stay")
  func expiredOnArrival() async throws {
    let harness = RefresherHarness([.block], ttl: .seconds(300), random: 0.5, expirySkew: .seconds(30))
    let good = Self.jwtAnswer(harness, expiresAfter: 120)
    harness.fetcher.append(.answer(Self.jwtAnswer(harness, expiresAfter: 20)))
    let first = Task { await harness.refresher.refreshOnce() }
    await harness.fetcher.waitForCalls(1)
    harness.fetcher.releaseBlocked(with: good)
    guard case .updated = await first.value else {
      Issue.record("the first answer should be published")
      return
    }
    let digest = harness.state.snapshot?.digest
    let outcome = await harness.refresher.refreshOnce()
    guard case .rejected(let reason) = outcome else {
      Issue.record("expected a rejection, got \(outcome)")
      return
    }
    #expect(reason.contains("expiry_skew"))
    #expect(harness.state.snapshot?.digest == digest)
    #expect(harness.state.status(at: harness.start).lastRejection == reason)
  }

  @Test(
    "single flight under concurrent expiry: checks at an expiring token never fetch; concurrent refreshes join the one slow fetch; no burst after"
  )
  func singleFlightAtExpiry() async throws {
    let clock = ManualClock()
    let start = clock.now()
    let provider = ProviderConfig(
      name: "idp", url: "http://127.0.0.1:1/headers", ttl: .seconds(300), timeout: .seconds(20), expirySkew: .seconds(10))
    let config = AugmenterConfig(providers: [provider], onUnavailable: .deny)
    let registry = ProviderRegistry(config: config)
    let decider = Decider(config: config, registry: registry)
    // Every fetch hangs until released: the IdP is slow exactly when the token runs out.
    let fetcher = ScriptedFetcher([.block])
    let refresher = ProviderRefresher(
      state: registry.states[0], fetcher: fetcher, clock: clock, logger: CapturingLogHandler.logger().0, random: { 0.5 })
    let run = Task { await refresher.run() }
    defer { run.cancel() }
    func jwt(expiresAfter seconds: Double) -> FetchedAnswer {
      .json(#"{"authorization": "Bearer \#(testJWT(#"{"exp":\#(clock.wallNow().timeIntervalSince1970 + seconds)}"#))"}"#)
    }
    @Sendable func token(at instant: MonotonicInstant) -> String? {
      let request = CheckRequestAttributes(method: "GET", path: "/", authority: "app", scheme: "http", requestID: "r")
      guard case .allow(let headers) = decider.decide(request, at: instant) else { return nil }
      return headers.first { $0.name == "authorization" }?.value
    }

    // The first token is usable for 50 s (exp minus the skew); the refresh is due at 82.5 % of it.
    await fetcher.waitForCalls(1)
    fetcher.releaseBlocked(with: jwt(expiresAfter: 60))
    let due = await clock.waitForSleeper { $0 > start + .seconds(20) }
    let first = try #require(token(at: start))
    #expect(due - start == .milliseconds(41_250))
    clock.advance(to: due)
    await fetcher.waitForCalls(2)

    // While that fetch hangs, the token reaches exp minus the skew and a crowd arrives at once:
    // checks just before it, checks after it, and refreshes asked for by others.
    clock.advance(to: start + .seconds(55))
    let joiners = (0..<50).map { _ in Task { await refresher.refreshOnce() } }
    let served = await withTaskGroup(of: (Bool, String?).self) { group in
      for index in 0..<400 {
        let before = index.isMultiple(of: 2)
        group.addTask { (before, token(at: start + (before ? .milliseconds(49_999) : .seconds(50) + .milliseconds(index)))) }
      }
      return await group.reduce(into: [(Bool, String?)]()) { $0.append($1) }
    }
    #expect(served.filter { $0.0 }.allSatisfy { $0.1 == first }, "served until exp minus the skew")
    #expect(served.filter { !$0.0 }.allSatisfy { $0.1 == nil }, "never at or after it")
    // Bounded, so a broken single flight fails the test instead of hanging it.
    for _ in 0..<100_000 where await refresher.joinedRefreshes < 50 {
      await Task.yield()
    }
    #expect(await refresher.joinedRefreshes == 50)
    #expect(fetcher.calls == 2, "checks never fetch; concurrent refreshes share the one in flight")

    // The one fetch answers: every caller gets its outcome, checks get the new token, and the
    // next refresh is a lifetime away, not a catch-up burst.
    fetcher.releaseBlocked(with: jwt(expiresAfter: 60))
    var outcomes = Set<RefreshOutcome>()
    for joiner in joiners { outcomes.insert(await joiner.value) }
    #expect(outcomes.count == 1)
    guard case .updated = try #require(outcomes.first) else {
      Issue.record("joined refreshes got \(outcomes)")
      return
    }
    let second = try #require(token(at: start + .seconds(55)))
    #expect(second != first)
    // Fetched at 41.25 s, usable until 115 s - 10 s: the next refresh at 82.5 % of that lifetime.
    let next = await clock.waitForSleeper { $0 > start + .seconds(62) }
    #expect(next - start == .milliseconds(41_250) + Duration.nanoseconds(Int64((0.825 * 63.75e9).rounded())))
    #expect(fetcher.calls == 2)
  }

  @Test("status shows the expiry, never the token")
  func statusHasNoToken() async throws {
    let harness = RefresherHarness([.block], ttl: .seconds(300), expirySkew: .seconds(1))
    let answer = Self.jwtAnswer(harness, expiresAfter: 60)
    let first = Task { await harness.refresher.refreshOnce() }
    await harness.fetcher.waitForCalls(1)
    harness.fetcher.releaseBlocked(with: answer)
    _ = await first.value
    let encoder = JSONEncoder()
    encoder.dateEncodingStrategy = .iso8601
    let json = String(decoding: try encoder.encode(harness.state.status(at: harness.start)), as: UTF8.self)
    #expect(json.contains(#""expires_at":"2023-11-14T22:31:00Z""#))
    let token = String(String(decoding: answer.body, as: UTF8.self).split(separator: "\"")[3].dropFirst(7))
    #expect(!json.contains(token))
    #expect(!json.contains(String(token.split(separator: ".")[1])))
  }
}

/// A scripted fetcher whose source fingerprint the test changes (a file provider's stat).
final class WatchedFetcher: ProviderFetcher, Sendable {
  let inner: ScriptedFetcher
  private let signature = Mutex("v1")

  init(_ steps: [FetchStep]) { inner = ScriptedFetcher(steps) }

  func change(to value: String) { signature.withLock { $0 = value } }
  func fetch(_ provider: ProviderConfig) async throws -> FetchedAnswer { try await inner.fetch(provider) }
  func sourceSignature(_ provider: ProviderConfig) -> String? { signature.withLock { $0 } }
}

@Suite("Provider refresher and source changes", .timeLimit(.minutes(1)))
struct ProviderRefresherWatchTests {
  @Test("a changed source fingerprint refreshes at the next watch_interval tick, long before the ttl")
  func refreshesOnChange() async throws {
    let clock = ManualClock()
    let fetcher = WatchedFetcher([.answer(okAnswer)])
    let state = ProviderState(
      config: ProviderConfig(
        name: "files", kind: .file, url: "", ttl: .seconds(600), timeout: .seconds(7), watchInterval: .seconds(1)))
    let (logger, _) = CapturingLogHandler.logger()
    let refresher = ProviderRefresher(state: state, fetcher: fetcher, clock: clock, logger: logger, random: { 0.5 })
    let run = Task { await refresher.run() }
    defer { run.cancel() }
    let start = clock.now()

    await fetcher.inner.waitForCalls(1)
    // Unchanged: it only ticks every second, without fetching.
    for tick in 1...3 {
      // The fetch timeout (start + 7s) is a sleeper too; it is not a tick.
      let now = clock.now()  // read outside the predicate, which runs under the clock's lock
      let deadline = await clock.waitForSleeper { $0 > now && $0 != start + .seconds(7) }
      #expect(deadline == start + .seconds(Int64(tick)))
      clock.advance(to: deadline)
    }
    // The refresher checked at 3 s and sleeps until the 4 s tick: nothing was fetched.
    let fourth = await clock.waitForSleeper { $0 == start + .seconds(4) }
    #expect(fetcher.inner.calls == 1)
    // Changed: the next tick fetches.
    fetcher.change(to: "v2")
    clock.advance(to: fourth)
    await fetcher.inner.waitForCalls(2)
    #expect(fetcher.inner.calls == 2)
  }
}
