// An identity provider whose clock is not ours: tokens issued "in the future" (`iat` ahead),
// already expired on arrival (its clock behind), or living barely longer than the skew. On a
// manual clock, the refresher runs for a while against such answers: no value is ever usable
// past its true expiry minus the skew, and the fetches stay few (no tight loop).

import AugmenterCore
import Foundation
import TestSupport
import Testing

@Suite("A skewed IdP clock", .timeLimit(.minutes(1)))
struct SkewedIdPClockTests {
  /// What the IdP answers at wall time `now`: a JWT with `iat`/`exp` offset from `now` (its
  /// clock), and `expires_in`.
  struct IdP: Sendable, CustomTestStringConvertible {
    var name: String
    var iatOffset: Double
    var expOffset: Double
    var expiresIn: Double
    /// How long the test runs the refresher, and the most fetches it may make meanwhile.
    var span: Duration
    var maxFetches: Int
    /// Whether any answer can be served at all.
    var servable: Bool

    var testDescription: String { name }

    func answer(at now: Date) -> FetchedAnswer {
      let iat = now.timeIntervalSince1970 + iatOffset
      let exp = now.timeIntervalSince1970 + expOffset
      return FetchedAnswer(
        status: 200, body: Array(#"{"authorization": "Bearer \#(testJWT(#"{"iat":\#(iat),"exp":\#(exp)}"#))"}"#.utf8),
        expiresIn: .milliseconds(Int64(expiresIn * 1000)))
    }

    /// The answer's true expiry, from the fetch on: the sooner of expires_in and exp.
    var trueLifetime: Duration { .milliseconds(Int64(min(expiresIn, expOffset) * 1000)) }
  }

  static let skew: Duration = .seconds(1)

  static let idps: [IdP] = [
    // Clock an hour ahead: iat and exp an hour in our future, expires_in 4 s. expires_in rules;
    // a refresh every ~2.5 s of the 3 s usable life: 30 s make about 12 fetches.
    IdP(
      name: "iat an hour ahead", iatOffset: 3600, expOffset: 3604, expiresIn: 4, span: .seconds(30), maxFetches: 14,
      servable: true),
    // Clock behind: exp already past when the answer arrives. Rejected every time; the back-off
    // (250 ms doubling, capped at 30 s) spaces the retries: 60 s make about 8.
    IdP(
      name: "exp already past (IdP clock behind)", iatOffset: -9, expOffset: -5, expiresIn: 4, span: .seconds(60), maxFetches: 9,
      servable: false),
    // A token living exactly the skew: usable for no time at all, rejected like the above.
    IdP(
      name: "lifetime equal to the skew", iatOffset: 0, expOffset: 1, expiresIn: 1, span: .seconds(60), maxFetches: 9,
      servable: false),
    // Barely longer than the skew: usable 200 ms; the refresh would come after 165 ms, but no
    // two fetches are closer than minimumRefreshDelay (250 ms): 5 s make at most 21.
    IdP(
      name: "lifetime 200 ms past the skew", iatOffset: 0, expOffset: 1.2, expiresIn: 1.2, span: .seconds(5), maxFetches: 21,
      servable: true),
  ]

  @Test("never usable past the true expiry minus the skew; fetches spaced and bounded", arguments: idps)
  func boundedAndNeverExpired(idp: IdP) async throws {
    let harness = RefresherHarness([.block], ttl: .seconds(300), random: 0.5, expirySkew: Self.skew)
    let run = Task { await harness.refresher.run() }
    defer { run.cancel() }

    var fetches: [MonotonicInstant] = []
    var published = 0
    while true {
      await harness.fetcher.waitForCalls(fetches.count + 1)
      let now = harness.clock.now()
      fetches.append(now)
      harness.fetcher.releaseBlocked(with: idp.answer(at: harness.clock.wallNow()))
      let next = await harness.nextScheduledRefresh(after: now)
      if let snapshot = harness.state.snapshot, snapshot.fetchedAt == now {
        published += 1
        // The bound comes from the answer as the IdP meant it, not from what Augmenter computed.
        #expect(snapshot.usableUntil <= now + idp.trueLifetime - Self.skew, "fetch \(fetches.count)")
      }
      // Whatever is served at the next refresh is still within its usable life.
      if let snapshot = harness.state.snapshot, harness.state.usableHeaders(at: next) != nil {
        #expect(next < snapshot.fetchedAt + idp.trueLifetime - Self.skew)
      }
      #expect(next - now >= ProviderRefresher.minimumRefreshDelay, "fetch \(fetches.count) followed by one \(next - now) later")
      if next - harness.start > idp.span { break }
      harness.clock.advance(to: next)
    }
    #expect(fetches.count <= idp.maxFetches, "\(fetches.count) fetches in \(idp.span)")
    #expect(fetches.count >= 4, "the refresher kept trying: \(fetches.count) fetches")
    if idp.servable {
      #expect(published == fetches.count)
    } else {
      #expect(published == 0)
      #expect(harness.state.usableHeaders(at: harness.clock.now()) == nil)
      let status = harness.state.status(at: harness.clock.now())
      #expect(status.lastRejection?.contains("within expiry_skew") == true, "\(status.lastRejection ?? "")")
    }
  }
}
