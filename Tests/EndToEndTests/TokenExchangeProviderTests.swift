//===----------------------------------------------------------------------===//
// End-to-end tests: the token_exchange provider (RFC 8693) against a real authorization server
// (Authlib, with the token exchange grant of scripts/oauth2-server.py), through a real Envoy.
//===----------------------------------------------------------------------===//

import Foundation
import TestSupport
import Testing

extension EndToEnd {
  /// Subject tokens signed like Kubernetes service-account tokens, exchanged by Augmenter for the
  /// authorization server's short-lived JWTs, which reach the echo upstream through Envoy.
  @Suite("OAuth 2.0 token exchange provider")
  struct TokenExchange {
    /// `expiry_skew` of every test here: tokens live a few seconds.
    static let skew: TimeInterval = 1
    static let grantType = "urn:ietf:params:oauth:grant-type:token-exchange"

    /// The server, the subject-token issuer and file, the echo upstream, Augmenter and Envoy.
    struct Setup {
      let server: OAuth2Server
      let issuer: SubjectTokenIssuer
      let subjectFile: URL
      let upstream: EchoUpstream
      let augmenter: AugmenterProcess
      let envoy: EnvoyProcess

      /// Starts everything with a subject token for `subject`; waits for readiness when `ready`.
      /// With `clientKey` (a PEM private key, its public key and type), the client authenticates
      /// with private_key_jwt signed by ES256 or RS256 instead of its secret.
      static func start(
        scope: TestScope, expiresIn: Int, subject: String = "system:serviceaccount:apps:reader", clockOffset: Int = 0,
        ready: Bool = true, clientKey: (key: String, pub: String, type: String)? = nil
      ) async throws -> Setup {
        let issuer = try await SubjectTokenIssuer.make(scope: scope)
        let server = try await OAuth2Server.start(
          scope: scope, clientID: "augmenter", secret: "s3cret-X", expiresIn: expiresIn,
          publicKey: clientKey.map { ($0.pub, $0.type) }, subjectIssuer: issuer, clockOffset: clockOffset)
        let secretFile = scope.file("client-secret")
        try Data("s3cret-X\n".utf8).write(to: secretFile)
        // A projected volume's token file: one line, no newline (kubelet writes it so).
        let subjectFile = scope.file("subject-token")
        try Data(try await issuer.token(subject: subject).utf8).write(to: subjectFile)
        let upstream = try await EchoUpstream.start(scope: scope)
        // private_key_jwt signs with its key; a secret file beside it is a configuration error.
        let clientAuth =
          clientKey.map {
            ["client_auth: private_key_jwt", "private_key_file: \($0.key)", "signing_alg: \($0.type == "EC" ? "ES256" : "RS256")"]
          }
          ?? ["client_auth: client_secret_post", "client_secret_file: \(secretFile.path)"]
        let provider =
          ["name: sts", "kind: token_exchange", "token_url: \(server.tokenURL)", "client_id: \(server.clientID)"] + clientAuth + [
            "subject_token_file: \(subjectFile.path)",
            "requested_token_type: urn:ietf:params:oauth:token-type:access_token",
            "audience: https://api.test",
            "scope: read",
            "ttl: 5m",
            "timeout: 1s",
            "expiry_skew: \(Int(TokenExchange.skew))s",
          ]
        let augmenter = try await AugmenterProcess.start(scope: scope) { checkPort, adminPort in
          let lines =
            [
              "listen: 127.0.0.1:\(checkPort)",
              "admin_listen: 127.0.0.1:\(adminPort)",
              "log_level: debug",
              "on_unavailable: deny",
              "providers:",
              "  - \(provider[0])",
            ] + provider.dropFirst().map { "    \($0)" }
          return lines.joined(separator: "\n") + "\n"
        }
        let envoy = try await EnvoyProcess.start(scope: scope, augmenterPort: augmenter.checkPort, upstreamPort: upstream.port)
        if ready { try await augmenter.waitUntilReady() }
        return Setup(
          server: server, issuer: issuer, subjectFile: subjectFile, upstream: upstream, augmenter: augmenter, envoy: envoy)
      }

      /// Replaces the subject token file the way the kubelet does: a new file renamed over it.
      func rotateSubject(to token: String) throws {
        try Data(token.utf8).write(to: subjectFile, options: .atomic)
      }

      /// GET through Envoy: the response and what the upstream received.
      func send() async throws -> (response: HTTPResponse, upstream: ReceivedRequest?) {
        let path = "/probe/\(UUID().uuidString)"
        let response = try await envoy.send(path: path)
        return (response, upstream.request(uri: path))
      }
    }

    @Test(
      "exchanged tokens reach the upstream with the subject as sub; a rotated subject-token file is picked up; no subject token, secret or token in the log or /status"
    )
    func exchangedAndRotated() async throws {
      try await withTestScope("token-exchange-rotated") { scope in
        let setup = try await Setup.start(scope: scope, expiresIn: 3)
        let firstSubject = try String(contentsOf: setup.subjectFile, encoding: .utf8)
        let first = try await setup.send()
        #expect(first.response.status == 200)
        let value = try #require(first.upstream?.values("authorization").first)
        let claims = try #require(TestJWT.claims(value), "not a Bearer JWT")
        #expect(value.hasPrefix("Bearer "))
        #expect(claims["sub"] as? String == "system:serviceaccount:apps:reader")
        #expect((claims["act"] as? [String: Any])?["sub"] as? String == "augmenter", "act names the client that exchanged")
        let exp = try #require(TestJWT.expiry(value))
        #expect(try #require(first.upstream?.receivedAt) < exp.addingTimeInterval(-Self.skew))

        // The kubelet rotates the projected token: the next exchange carries the new one, and
        // the tokens the upstream receives now speak for the new subject.
        let rotated = Date()
        let newSubject = try await setup.issuer.token(subject: "system:serviceaccount:apps:writer")
        try setup.rotateSubject(to: newSubject)
        let after = try await eventually("a token for the rotated subject at the upstream", timeout: .seconds(15)) {
          () async throws -> ReceivedRequest? in
          let (response, received) = try await setup.send()
          guard response.status == 200, let received, let token = received.values("authorization").first else { return nil }
          return TestJWT.claims(token)?["sub"] as? String == "system:serviceaccount:apps:writer" ? received : nil
        }
        #expect(after.receivedAt.timeIntervalSince(rotated) < 10)

        let stats = try await setup.server.stats()
        #expect(!stats.requests.isEmpty)
        for request in stats.requests {
          #expect(request.status == 200, "\(request)")
          #expect(request.authMethod == "client_secret_post")
          #expect(request.parameters["grant_type"] == Self.grantType)
          #expect(request.parameters["subject_token_type"] == "urn:ietf:params:oauth:token-type:jwt")
          #expect(request.parameters["requested_token_type"] == "urn:ietf:params:oauth:token-type:access_token")
          #expect(request.parameters["audience"] == "https://api.test")
          #expect(request.parameters["scope"] == "read")
          #expect(request.parameters["client_id"] == "augmenter")
        }
        #expect(Set(stats.issued.compactMap(\.subject)) == ["system:serviceaccount:apps:reader", "system:serviceaccount:apps:writer"])
        // Once rotated, every exchange carried the new subject token.
        let lastOld = try #require(stats.issued.last { $0.subject == "system:serviceaccount:apps:reader" })
        #expect(stats.issued.filter { $0.time > lastOld.time }.allSatisfy { $0.subject == "system:serviceaccount:apps:writer" })

        // Neither subject token, the secret nor any access token appears in the log or /status.
        let subjects = [firstSubject, newSubject]
        let tokens = setup.upstream.requests.flatMap { $0.values("authorization") }.map { String($0.dropFirst(7)) }
        #expect(!tokens.isEmpty)
        let status = try await setup.augmenter.status().response.text
        let log = setup.augmenter.process.log()
        #expect(log.contains("provider refreshed"))
        for secret in ["s3cret-X"] + subjects + tokens + (subjects + tokens).map { String($0.split(separator: ".")[2]) } {
          #expect(!log.contains(secret), "the log holds a secret or token")
          #expect(!status.contains(secret), "/status holds a secret or token")
        }
      }
    }

    @Test(
      "under steady h2load for several token lifetimes no exchanged token reaches the upstream past exp minus the skew; refreshed at ~80 %, no burst"
    )
    func neverExpiredUnderLoad() async throws {
      try await withTestScope("token-exchange-under-load") { scope in
        let setup = try await Setup.start(scope: scope, expiresIn: 3)
        let load = try await H2Load.steady(
          url: "http://127.0.0.1:\(setup.envoy.listenerPort)/load", clients: 2, rps: 20, duration: .seconds(10), scope: scope)
        try load.expectAllSucceeded()
        let tokens = TestJWT.expectUnexpired(setup.upstream.requests, under: "/load", count: load.requests, skew: Self.skew)
        // 10 s of 3 s tokens (1-2 s usable: exp is in whole seconds), each refreshed at 75-90 %
        // of the previous one's usable life, from the previous exchange: several tokens in turn,
        // and no exchange that requests under load triggered.
        #expect(tokens.count >= 4, "\(tokens.count) distinct tokens")
        let stats = try await setup.server.stats()
        #expect(stats.requests.allSatisfy { $0.status == 200 && $0.parameters["grant_type"] == Self.grantType })
        #expect(stats.issued.count == stats.requests.count)
        for (previous, next) in zip(stats.issued, stats.issued.dropFirst()) {
          let usable = previous.expiresAt.timeIntervalSince(previous.time) - Self.skew
          let fraction = next.time.timeIntervalSince(previous.time) / usable
          #expect(fraction >= 0.7 && fraction < 0.97, "refreshed at \(fraction) of the usable lifetime \(usable) s")
        }
      }
    }

    @Test(
      "augmenter validate: missing or unreadable subject-token, secret and key files named at their key paths, exit 1; present ones are ok"
    )
    func validateNamesCredentialFiles() async throws {
      try await withTestScope("token-exchange-validate") { scope in
        func validate(_ yaml: String, _ name: String) async throws -> (status: ProcessExitStatus?, output: String) {
          let file = scope.file("\(name).yaml")
          try yaml.write(to: file, atomically: true, encoding: .utf8)
          let process = try ChildProcess.spawn(
            name: "validate-\(name)", executable: try TestEnvironment.augmenterBinary(), arguments: ["validate", file.path], scope: scope)
          let status = await process.waitForExit(timeout: .seconds(30))
          return (status, process.log())
        }
        let missing = scope.directory.appendingPathComponent("absent").path
        // Paths that exist but that nobody, root included (as these tests may run), can read as
        // a file: named unreadable at their key paths, not missing.
        let directory = scope.directory.path
        let fifo = scope.file("fifo").path
        #expect(mkfifo(fifo, 0o600) == 0)
        let bad = try await validate(
          """
          providers:
            - name: sts
              kind: token_exchange
              token_url: https://sts.example.com/token
              client_id: augmenter
              client_secret_file: \(missing)/secret
              subject_token_file: \(missing)/token
            - name: sts-jwt
              kind: token_exchange
              token_url: https://sts.example.com/token
              client_id: augmenter
              client_auth: private_key_jwt
              private_key_file: \(missing)/client.key
            - name: sts-unreadable
              kind: token_exchange
              token_url: https://sts.example.com/token
              client_id: augmenter
              client_secret_file: \(directory)
              subject_token_file: \(fifo)
            - name: cc-jwt
              kind: oauth2_client_credentials
              token_url: https://idp.example.com/token
              client_id: augmenter
              client_auth: private_key_jwt
              private_key_file: \(fifo)
          """, "bad")
        #expect(bad.status == .exited(1), "\(bad.output)")
        for line in [
          "providers[0].client_secret_file: no such file: \(missing)/secret",
          "providers[0].subject_token_file: no such file: \(missing)/token",
          "providers[1].private_key_file: no such file: \(missing)/client.key",
          "providers[1].subject_token_file: missing; the file holding the subject token is required",
          "providers[2].client_secret_file: not readable: a directory, expected a file: \(directory)",
          "providers[2].subject_token_file: not readable: a FIFO, expected a file: \(fifo)",
          "providers[3].private_key_file: not readable: a FIFO, expected a PEM file: \(fifo)",
        ] {
          #expect(bad.output.contains(line), "no \"\(line)\" in:\n\(bad.output)")
        }

        let secret = scope.file("secret")
        let token = scope.file("token")
        try Data("s\n".utf8).write(to: secret)
        try Data("t".utf8).write(to: token)
        let good = try await validate(
          """
          providers:
            - name: sts
              kind: token_exchange
              token_url: https://sts.example.com/token
              client_id: augmenter
              client_secret_file: \(secret.path)
              subject_token_file: \(token.path)
          """, "good")
        #expect(good.status == .exited(0), "\(good.output)")
        #expect(good.output.contains("ok (1 provider(s)"), "\(good.output)")
      }
    }

    @Test("private_key_jwt: the client authentication of client credentials, shared, verified by Authlib for the exchange")
    func privateKeyJWT() async throws {
      try await withTestScope("token-exchange-private-key-jwt") { scope in
        let key = scope.file("client.key").path
        let pub = scope.file("client.pub").path
        let made = try await Command.run(
          "/usr/bin/openssl", ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", key])
        #expect(made.succeeded, "\(made)")
        let exported = try await Command.run("/usr/bin/openssl", ["pkey", "-in", key, "-pubout", "-out", pub])
        #expect(exported.succeeded, "\(exported)")
        let setup = try await Setup.start(scope: scope, expiresIn: 4, clientKey: (key, pub, "EC"))
        let (response, received) = try await setup.send()
        #expect(response.status == 200)
        let value = try #require(received?.values("authorization").first)
        #expect(TestJWT.claims(value)?["sub"] as? String == "system:serviceaccount:apps:reader")
        let stats = try await setup.server.stats()
        #expect(!stats.requests.isEmpty)
        for request in stats.requests {
          #expect(request.status == 200 && request.authMethod == "private_key_jwt", "\(request)")
          #expect(request.parameters["grant_type"] == Self.grantType)
          #expect(request.parameters["client_assertion_type"] == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
        }
      }
    }

    @Test(
      "a rejected subject token: invalid_grant in /status and the log; the last good token is served until its exp minus the skew, never after"
    )
    func rejectedSubjectToken() async throws {
      try await withTestScope("token-exchange-rejected") { scope in
        let setup = try await Setup.start(scope: scope, expiresIn: 5)
        _ = try await setup.send()
        // An expired subject token (a kubelet that stopped rotating it): the server refuses it.
        let expired = try await setup.issuer.token(subject: "system:serviceaccount:apps:reader", lifetime: -120)
        try setup.rotateSubject(to: expired)

        var lastServed: (at: Date, exp: Date)?
        let denied = try await eventually(
          "Envoy to deny once the last token is past exp minus the skew", timeout: .seconds(15), every: .milliseconds(50)
        ) {
          () async throws -> HTTPResponse? in
          // Decided after it was sent: a request sent at or past exp minus the skew must not get
          // the token. (Its arrival upstream trails the decision by Envoy's transit, which the
          // send time leaves out.)
          let sent = Date()
          let (response, received) = try await setup.send()
          guard response.status == 200 else { return response }
          let value = try #require(received?.values("authorization").first)
          let exp = try #require(TestJWT.expiry(value))
          let at = try #require(received?.receivedAt)
          #expect(sent < exp.addingTimeInterval(-Self.skew), "sent \(sent.timeIntervalSince(exp)) s relative to exp, and served")
          lastServed = (at, exp)
          return nil
        }
        #expect(denied.status == 503, "\(denied)")
        let last = try #require(lastServed)
        #expect(last.at > last.exp.addingTimeInterval(-Self.skew - 0.5), "last served \(last.exp.timeIntervalSince(last.at)) s before exp")

        let provider = try #require(try await setup.augmenter.status().providers.first)
        #expect(provider.usable == false)
        #expect(
          provider.lastError?.contains("token endpoint error invalid_grant: The subject token is not valid: ExpiredTokenError") == true,
          "\(provider.lastError ?? "")")
        #expect((provider.consecutiveFailures ?? 0) > 0)
        let log = setup.augmenter.process.log()
        #expect(log.contains("invalid_grant"))
        #expect(!log.contains(expired) && !log.contains(String(expired.split(separator: ".")[2])))
        let stats = try await setup.server.stats()
        #expect(stats.requests.contains { $0.error == "invalid_grant" })
        for _ in 0..<3 {
          let (response, received) = try await setup.send()
          #expect(response.status == 503)
          #expect(received == nil)
        }
      }
    }

    @Test(
      "IdP clock a minute ahead (iat in the future): tokens flow, each served before its issue time plus expires_in minus the skew, no burst"
    )
    func idpClockAhead() async throws {
      try await withTestScope("token-exchange-clock-ahead") { scope in
        let setup = try await Setup.start(scope: scope, expiresIn: 3, clockOffset: 60)
        let started = Date()
        while Date().timeIntervalSince(started) < 8 {
          let (response, _) = try await setup.send()
          #expect(response.status == 200)
          try await Task.sleep(for: .milliseconds(100))
        }
        let stats = try await setup.server.stats()
        let issuedByID = Dictionary(
          stats.issued.compactMap { token in token.id.map { ($0, token) } }, uniquingKeysWith: { first, _ in first })
        var checked = 0
        for request in setup.upstream.requests where request.uri.hasPrefix("/probe/") {
          let value = try #require(request.values("authorization").first)
          let claims = try #require(TestJWT.claims(value))
          let issued = try #require((claims["jti"] as? String).flatMap { issuedByID[$0] })
          // The token's own iat and exp are a minute in our future: they say nothing useful here.
          // expires_in does: it must bound the serving, from the moment the server issued it.
          #expect(issued.issuedAt.timeIntervalSince(issued.time) > 55)
          #expect(
            request.receivedAt < issued.time.addingTimeInterval(3 - Self.skew),
            "served \(request.receivedAt.timeIntervalSince(issued.time)) s after issue")
          checked += 1
        }
        #expect(checked > 30)
        // 2 s of usable life each (expires_in minus the skew), refreshed at 75-90 % of it: one
        // exchange every 1.5-1.8 s, no burst.
        #expect(stats.issued.count >= 4)
        for (previous, next) in zip(stats.issued, stats.issued.dropFirst()) {
          let fraction = next.time.timeIntervalSince(previous.time) / (3 - Self.skew)
          #expect(fraction >= 0.7 && fraction < 0.97, "refreshed at \(fraction) of the usable lifetime")
        }
      }
    }

    @Test(
      "IdP clock behind (every token already expired): each answer rejected with the reason in /status, requests denied, fetches backing off"
    )
    func idpClockBehind() async throws {
      try await withTestScope("token-exchange-clock-behind") { scope in
        let setup = try await Setup.start(scope: scope, expiresIn: 4, clockOffset: -30, ready: false)
        let rejected = try await eventually("/status to report the rejection", timeout: .seconds(10)) {
          try await setup.augmenter.status().providers.first.flatMap { $0.lastRejection?.contains("within expiry_skew") == true ? $0 : nil }
        }
        #expect(rejected.usable == false)
        try await Task.sleep(for: .seconds(6))
        let (response, received) = try await setup.send()
        #expect(response.status == 503)
        #expect(received == nil)
        #expect(try await setup.augmenter.readyz() != 200)
        // Back-off from 250 ms, doubling (with jitter): a handful of attempts in ~7 s, not a loop.
        let stats = try await setup.server.stats()
        #expect(stats.requests.count >= 3 && stats.requests.count <= 9, "\(stats.requests.count) token requests")
        #expect(stats.requests.allSatisfy { $0.status == 200 })
      }
    }
  }
}
