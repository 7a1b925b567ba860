//===----------------------------------------------------------------------===//
// End-to-end tests: the oauth2_client_credentials provider against a real authorization server
// (Authlib), through a real Envoy: never an expired token on the wire.
//===----------------------------------------------------------------------===//

import Foundation
import TestSupport
import Testing

extension EndToEnd {
  /// Tokens from Authlib's authorization server (RS256 JWTs living a few seconds), injected by
  /// Augmenter into requests through Envoy, and checked at the echo upstream against their `exp`.
  @Suite("OAuth 2.0 client credentials provider")
  struct OAuth2ClientCredentials {
    /// `expiry_skew` of every test here: tokens live a few seconds, so the default 30s would make
    /// every one unusable on arrival.
    static let skew: TimeInterval = 1

    /// Augmenter's configuration: one oauth2_client_credentials provider for `server`.
    static func yaml(
      server: OAuth2Server, secretFile: URL, clientAuth: String, extra: [String] = []
    ) -> (Int, Int) -> String {
      { checkPort, adminPort in
        var lines = [
          "listen: 127.0.0.1:\(checkPort)",
          "admin_listen: 127.0.0.1:\(adminPort)",
          "log_level: debug",
          "on_unavailable: deny",
          "providers:",
          "  - name: idp",
          "    kind: oauth2_client_credentials",
          "    token_url: \(server.tokenURL)",
          "    client_id: \(server.clientID)",
          "    client_auth: \(clientAuth)",
          "    ttl: 5m",
          "    timeout: 1s",
          "    expiry_skew: \(Int(skew))s",
        ]
        // private_key_jwt signs with its key; a secret file beside it is a configuration error.
        if clientAuth != "private_key_jwt" { lines.append("    client_secret_file: \(secretFile.path)") }
        lines += extra.map { "    \($0)" }
        return lines.joined(separator: "\n") + "\n"
      }
    }

    /// The server, a client secret file, the echo upstream, Augmenter and Envoy.
    struct Setup {
      let server: OAuth2Server
      let secretFile: URL
      let upstream: EchoUpstream
      let augmenter: AugmenterProcess
      let envoy: EnvoyProcess

      static func start(
        scope: TestScope, expiresIn: Int, clientAuth: String = "client_secret_basic", extra: [String] = [],
        publicKey: (path: String, type: String)? = nil
      ) async throws -> Setup {
        let server = try await OAuth2Server.start(
          scope: scope, clientID: "augmenter", secret: "s3cret-A", expiresIn: expiresIn, publicKey: publicKey)
        let secretFile = scope.file("client-secret")
        try Data("s3cret-A\n".utf8).write(to: secretFile)
        let upstream = try await EchoUpstream.start(scope: scope)
        let augmenter = try await AugmenterProcess.start(
          scope: scope, yaml: OAuth2ClientCredentials.yaml(server: server, secretFile: secretFile, clientAuth: clientAuth, extra: extra))
        let envoy = try await EnvoyProcess.start(scope: scope, augmenterPort: augmenter.checkPort, upstreamPort: upstream.port)
        try await augmenter.waitUntilReady()
        return Setup(server: server, secretFile: secretFile, upstream: upstream, augmenter: augmenter, envoy: envoy)
      }

      /// GET through Envoy: the response and what the upstream received.
      func send() async throws -> (response: HTTPResponse, upstream: ReceivedRequest?) {
        let path = "/probe/\(UUID().uuidString)"
        let response = try await envoy.send(path: path)
        return (response, upstream.request(uri: path))
      }
    }

    @Test(
      "under steady load for several token lifetimes no token reaches the upstream past exp minus the skew; refreshes at ~80 %, no burst")
    func neverExpiredOnTheWire() async throws {
      try await withTestScope("oauth2-never-expired") { scope in
        let setup = try await Setup.start(scope: scope, expiresIn: 4, extra: ["scope: read"])
        let load = try await H2Load.steady(
          url: "http://127.0.0.1:\(setup.envoy.listenerPort)/load", clients: 2, rps: 20, duration: .seconds(14), scope: scope)
        try load.expectAllSucceeded()

        let tokens = TestJWT.expectUnexpired(setup.upstream.requests, under: "/load", count: load.requests, skew: Self.skew)
        // 14 s of 4 s tokens, refreshed at ~80 % of ~3 s: several tokens were used in turn.
        #expect(tokens.count >= 4, "\(tokens.count) distinct tokens")

        // At the server: one fetch per lifetime, each at 75-90 % of the previous token's usable
        // life (its exp minus the skew, from the previous fetch), never a burst.
        let stats = try await setup.server.stats()
        #expect(stats.requests.allSatisfy { $0.status == 200 && $0.authMethod == "client_secret_basic" })
        #expect(stats.requests.allSatisfy { $0.parameters["grant_type"] == "client_credentials" && $0.parameters["scope"] == "read" })
        #expect(stats.issued.count >= 5)
        for (previous, next) in zip(stats.issued, stats.issued.dropFirst()) {
          let usable = previous.expiresAt.timeIntervalSince(previous.time) - Self.skew
          let fraction = next.time.timeIntervalSince(previous.time) / usable
          #expect(fraction >= 0.7 && fraction < 0.97, "refreshed at \(fraction) of the usable lifetime \(usable) s")
        }
        let span = try #require(stats.issued.last).time.timeIntervalSince(try #require(stats.issued.first).time)
        #expect(Double(stats.requests.count - 1) <= span / 1.5 + 1, "\(stats.requests.count) token requests in \(span) s")
      }
    }

    @Test("invalid_client is surfaced in /status and the log; a rotated secret file is picked up; no secret or token in either")
    func rotatedSecretAndInvalidClient() async throws {
      try await withTestScope("oauth2-rotated-secret") { scope in
        let setup = try await Setup.start(
          scope: scope, expiresIn: 3, clientAuth: "client_secret_post",
          extra: ["audience: https://api.test", "resource: https://api.test/", "header: x-upstream-token", "format: Token {}"])
        let first = try await setup.send()
        let firstToken = try #require(first.upstream?.values("x-upstream-token").first)
        #expect(firstToken.hasPrefix("Token ey"))

        // The authorization server rotates the secret first: Augmenter's next fetch is refused.
        try setup.server.setSecret("s3cret-B")
        let failing = try await eventually("/status to report invalid_client", timeout: .seconds(10)) {
          let provider = try await setup.augmenter.status().providers.first
          return provider?.lastError?.contains("invalid_client") == true && (provider?.consecutiveFailures ?? 0) > 0
            ? provider : nil
        }
        #expect(
          failing.lastError?.contains("token endpoint error invalid_client: The client cannot authenticate") == true,
          "\(failing.lastError ?? "")")
        #expect(setup.augmenter.process.log().contains("invalid_client"))

        // Then the new secret lands in Augmenter's file: picked up at the next fetch.
        let rotated = Date()
        try Data("s3cret-B\n".utf8).write(to: setup.secretFile, options: .atomic)
        try await eventually("a token fetched with the rotated secret", timeout: .seconds(10)) {
          let stats = try await setup.server.stats()
          return stats.requests.contains { $0.time > rotated && $0.status == 200 } ? true : nil
        }
        let recovered = try await eventually("/status to recover", timeout: .seconds(10)) {
          try await setup.augmenter.status().providers.first.flatMap { $0.consecutiveFailures == 0 ? $0 : nil }
        }
        #expect(recovered.expiresAt != nil)
        let after = try await setup.send()
        #expect(after.response.status == 200)

        let stats = try await setup.server.stats()
        #expect(stats.requests.allSatisfy { $0.authMethod == "client_secret_post" })
        for request in stats.requests {
          #expect(request.parameters["client_id"] == "augmenter")
          #expect(request.parameters["audience"] == "https://api.test")
          #expect(request.parameters["resource"] == "https://api.test/")
        }

        // Neither secret nor any token appears in the log or /status.
        let tokens = setup.upstream.requests.flatMap { $0.values("x-upstream-token") }.map { String($0.dropFirst(6)) }
        #expect(!tokens.isEmpty)
        let status = try await setup.augmenter.status().response.text
        let log = setup.augmenter.process.log()
        for secret in ["s3cret-A", "s3cret-B"] + tokens + tokens.map { String($0.split(separator: ".")[2]) } {
          #expect(!log.contains(secret), "the log holds a secret or token")
          #expect(!status.contains(secret), "/status holds a secret or token")
        }
      }
    }

    @Test(
      "private_key_jwt: assertions signed with OpenSSL are verified by Authlib; a key the server does not know is invalid_client",
      arguments: [
        ("ES256", "EC", ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"]),
        ("RS256", "RSA", ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"]),
      ])
    func privateKeyJWT(algorithm: String, keyType: String, generate: [String]) async throws {
      try await withTestScope("oauth2-private-key-jwt-\(algorithm)") { scope in
        func keyPair(_ name: String) async throws -> (key: String, pub: String) {
          let key = scope.file("\(name).key").path
          let pub = scope.file("\(name).pub").path
          let made = try await Command.run("/usr/bin/openssl", ["genpkey"] + generate + ["-out", key])
          #expect(made.succeeded, "\(made)")
          let exported = try await Command.run("/usr/bin/openssl", ["pkey", "-in", key, "-pubout", "-out", pub])
          #expect(exported.succeeded, "\(exported)")
          return (key, pub)
        }
        let registered = try await keyPair("registered")
        let other = try await keyPair("other")
        let keyFile = scope.file("client.key")
        try FileManager.default.copyItem(atPath: registered.key, toPath: keyFile.path)
        let setup = try await Setup.start(
          scope: scope, expiresIn: 4, clientAuth: "private_key_jwt",
          extra: ["private_key_file: \(keyFile.path)", "signing_alg: \(algorithm)", "key_id: k1"],
          publicKey: (registered.pub, keyType))
        let (response, received) = try await setup.send()
        #expect(response.status == 200)
        #expect(received?.values("authorization").first.flatMap(TestJWT.expiry) != nil)
        let stats = try await setup.server.stats()
        #expect(!stats.requests.isEmpty && stats.requests.allSatisfy { $0.authMethod == "private_key_jwt" && $0.status == 200 })
        #expect(
          stats.requests.allSatisfy { $0.parameters["client_assertion_type"] == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" })

        // The key file is re-read on every fetch: a key the server does not know is refused.
        try FileManager.default.removeItem(at: keyFile)
        try FileManager.default.copyItem(atPath: other.key, toPath: keyFile.path)
        let failing = try await eventually("/status to report invalid_client", timeout: .seconds(10)) {
          try await setup.augmenter.status().providers.first.flatMap { $0.lastError?.contains("invalid_client") == true ? $0 : nil }
        }
        #expect(failing.consecutiveFailures ?? 0 > 0)
        let log = setup.augmenter.process.log()
        #expect(!log.contains("PRIVATE KEY"))
      }
    }

    @Test("IdP down: the last token is served until its exp minus the skew, never after; then on_unavailable denies")
    func idpDown() async throws {
      try await withTestScope("oauth2-idp-down") { scope in
        let setup = try await Setup.start(scope: scope, expiresIn: 5)
        _ = try await setup.send()
        _ = await setup.server.process.terminate()

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
        // Served up to (close to) the end of its usable life, not dropped early.
        let last = try #require(lastServed)
        #expect(last.at > last.exp.addingTimeInterval(-Self.skew - 0.5), "last served \(last.exp.timeIntervalSince(last.at)) s before exp")
        // And never again.
        for _ in 0..<5 {
          let (response, received) = try await setup.send()
          #expect(response.status == 503)
          #expect(received == nil)
          try await Task.sleep(for: .milliseconds(200))
        }
        let provider = try #require(try await setup.augmenter.status().providers.first)
        #expect(provider.usable == false)
        #expect(provider.expiresAt != nil)
        #expect(provider.lastError != nil)
      }
    }
  }
}
