// Provider kinds in the configuration: `file`, `oauth2_client_credentials` and `token_exchange` read and checked
// with precise key paths (what `augmenter validate` prints), keys of other kinds refused.

import AugmenterCore
import Foundation
import Testing

@Suite("Provider kinds: configuration")
struct ProviderKindConfigTests {
  /// A readable file in a fresh directory.
  static func readableFile(_ content: String = "secret-value") throws -> String {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("augmenter-kinds-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    let path = directory.appendingPathComponent("file").path
    try Data(content.utf8).write(to: URL(fileURLWithPath: path))
    return path
  }

  @Test("an http provider is the default kind and keeps its keys; expiry_skew defaults to 30s")
  func defaultKind() throws {
    let config = try ConfigLoader.parse("providers:\n" + providerYAML(), environment: [:])
    #expect(config.providers[0].kind == .http)
    #expect(config.providers[0].expirySkew == .seconds(30))
  }

  @Test("oauth2_client_credentials: every key read")
  func oauth2Keys() throws {
    let secret = try Self.readableFile()
    let config = try ConfigLoader.parse(
      """
      providers:
        - name: idp
          kind: oauth2_client_credentials
          token_url: https://idp.example.com/oauth2/token
          client_id: augmenter
          client_secret_file: \(secret)
          client_auth: client_secret_post
          scope: read write
          audience: https://api.example.com
          resource: https://api.example.com/
          header: x-upstream-token
          format: Token {}
          expiry_skew: 5s
      """, environment: [:])
    let provider = config.providers[0]
    #expect(provider.kind == .oauth2ClientCredentials)
    #expect(provider.tokenURL == "https://idp.example.com/oauth2/token")
    #expect(provider.clientID == "augmenter")
    #expect(provider.clientSecretFile == secret)
    #expect(provider.clientAuth == .clientSecretPost)
    #expect(provider.scope == "read write")
    #expect(provider.audience == "https://api.example.com")
    #expect(provider.resource == "https://api.example.com/")
    #expect(provider.header == "x-upstream-token")
    #expect(provider.format == "Token {}")
    #expect(provider.expirySkew == .seconds(5))
    #expect(provider.sourceURL == "https://idp.example.com/oauth2/token")
  }

  @Test("file: the path shorthand and the {path, format} form")
  func fileKeys() throws {
    let token = try Self.readableFile()
    let config = try ConfigLoader.parse(
      """
      providers:
        - name: svid
          kind: file
          files:
            authorization: {path: \(token), format: "Bearer {}"}
            x-raw: \(token)
          watch_interval: 250ms
      """, environment: [:])
    #expect(
      config.providers[0].files == [
        ProviderFile(name: "authorization", path: token, format: "Bearer {}"), ProviderFile(name: "x-raw", path: token),
      ])
    #expect(config.providers[0].watchInterval == .milliseconds(250))
    #expect(ProviderFile(name: "a", path: "p", format: "Bearer {}").value(of: "t0k") == "Bearer t0k")
  }

  @Test("validate: missing and unreadable files, missing keys and keys of another kind, each at its key path")
  func problemsAtKeyPaths() throws {
    let found = problems(
      """
      providers:
        - name: idp
          kind: oauth2_client_credentials
          client_secret_file: /nonexistent/augmenter/secret
          header: "bad header"
          format: Bearer
        - name: svid
          kind: file
          url: http://127.0.0.1:1/headers
          files:
            authorization: {format: "Bearer"}
            host: /nonexistent/augmenter/token
            x-dir: /tmp
          scope: read
        - name: plain
          url: http://127.0.0.1:1/headers
          files: {x-a: /tmp}
          client_id: augmenter
          expiry_skew: -1s
        - name: empty
          kind: file
      """)
    let byKey = Dictionary(found.map { ($0.keyPath, $0.message) }, uniquingKeysWith: { first, _ in first })
    #expect(byKey["providers[0].token_url"] == "missing; the token endpoint is required")
    #expect(byKey["providers[0].client_id"] == "missing; the client identifier is required")
    #expect(byKey["providers[0].client_secret_file"] == "no such file: /nonexistent/augmenter/secret")
    #expect(byKey["providers[0].header"]?.contains("token set") == true)
    #expect(byKey["providers[0].format"] == "must contain {} where the access token goes")
    #expect(byKey["providers[0].url"] == nil)
    #expect(byKey["providers[1].url"] == "applies only to kind http; this provider's kind is file")
    #expect(
      byKey["providers[1].scope"] == "applies only to kinds oauth2_client_credentials and token_exchange; this provider's kind is file")
    #expect(byKey["providers[1].files.authorization.path"] == "missing; each file header needs the path of its file")
    #expect(byKey["providers[1].files.authorization.format"] == "must contain {} where the file's content goes")
    #expect(byKey["providers[1].files.host"]?.contains("reserved") == true)
    #expect(byKey["providers[1].files.host.path"] == "no such file: /nonexistent/augmenter/token")
    #expect(byKey["providers[1].files.x-dir.path"] == "not readable: a directory, expected a file: /tmp")
    #expect(byKey["providers[2].files"] == "applies only to kind file; this provider's kind is http")
    #expect(
      byKey["providers[2].client_id"] == "applies only to kinds oauth2_client_credentials and token_exchange; this provider's kind is http")
    #expect(byKey["providers[2].expiry_skew"]?.contains("negative durations are not allowed") == true)
    #expect(byKey["providers[3].files"] == "missing; a file provider needs at least one header and its file")
    #expect(byKey["providers[3].url"] == nil)
  }

  @Test("private_key_jwt: its keys read; a key file required, a secret file refused; its keys refused with other methods")
  func privateKeyJWT() throws {
    let key = try Self.readableFile()
    let config = try ConfigLoader.parse(
      """
      providers:
        - name: idp
          kind: oauth2_client_credentials
          token_url: https://idp.example.com/token
          client_id: augmenter
          client_auth: private_key_jwt
          private_key_file: \(key)
          signing_alg: ES256
          key_id: k1
      """, environment: [:])
    #expect(config.providers[0].clientAuth == .privateKeyJWT)
    #expect(config.providers[0].signingAlgorithm == .es256)
    #expect(config.providers[0].keyID == "k1")
    let found = problems(
      """
      providers:
        - name: a
          kind: oauth2_client_credentials
          token_url: https://idp.example.com/token
          client_id: augmenter
          client_auth: private_key_jwt
          client_secret_file: \(key)
        - name: b
          kind: oauth2_client_credentials
          token_url: https://idp.example.com/token
          client_id: augmenter
          client_secret_file: \(key)
          private_key_file: \(key)
      """)
    #expect(
      found.contains(
        ConfigProblem(keyPath: "providers[0].private_key_file", message: "missing; client_auth private_key_jwt signs with this key")))
    #expect(found.contains(ConfigProblem(keyPath: "providers[0].client_secret_file", message: "not used with client_auth private_key_jwt")))
    #expect(found.contains(ConfigProblem(keyPath: "providers[1].private_key_file", message: "applies only to client_auth private_key_jwt")))
  }

  @Test("validate: a secret file the system refuses to read is named with the reason, also when run as root")
  func unreadableSecret() throws {
    var refused: [String] = []
    // Permission bits stop every process but root.
    if getuid() != 0 {
      let secret = try Self.readableFile()
      chmod(secret, 0)
      refused.append(secret)
    }
    #if os(Linux)
      // /proc/sys checks its mode bits without root's override: this one is write-only for all.
      let writeOnly = "/proc/sys/vm/compact_memory"
      if FileManager.default.fileExists(atPath: writeOnly) { refused.append(writeOnly) }
    #endif
    for secret in refused {
      let found = problems(
        """
        providers:
          - name: idp
            kind: oauth2_client_credentials
            token_url: http://127.0.0.1:1/token
            client_id: augmenter
            client_secret_file: \(secret)
        """)
      #expect(
        found == [
          ConfigProblem(keyPath: "providers[0].client_secret_file", message: "not readable by this process (Permission denied): \(secret)")
        ])
    }
  }

  @Test(
    "validate: secret, key and subject-token paths that exist but cannot be read as files are named unreadable, not missing, even for root"
  )
  func unreadableCredentialPaths() throws {
    // Permission bits stop no root process, and the tests may run as root: these paths cannot be
    // read as a file by anyone. `access(2)` calls every one of them readable.
    let directory = URL(fileURLWithPath: try Self.readableFile()).deletingLastPathComponent().path
    let fifo = directory + "/fifo"
    let socket = directory + "/socket"
    #expect(mkfifo(fifo, 0o600) == 0)
    #expect(mknod(socket, S_IFSOCK | 0o600, 0) == 0)
    #expect(access(fifo, R_OK) == 0 && access(socket, R_OK) == 0)
    let found = problems(
      """
      providers:
        - name: sts
          kind: token_exchange
          token_url: http://127.0.0.1:1/token
          client_id: augmenter
          client_secret_file: \(directory)
          subject_token_file: \(fifo)
        - name: sts-jwt
          kind: token_exchange
          token_url: http://127.0.0.1:1/token
          client_id: augmenter
          client_auth: private_key_jwt
          private_key_file: \(socket)
          subject_token_file: \(directory)
        - name: cc
          kind: oauth2_client_credentials
          token_url: http://127.0.0.1:1/token
          client_id: augmenter
          client_secret_file: \(fifo)
        - name: cc-jwt
          kind: oauth2_client_credentials
          token_url: http://127.0.0.1:1/token
          client_id: augmenter
          client_auth: private_key_jwt
          private_key_file: \(directory)
      """)
    #expect(
      found == [
        ConfigProblem(keyPath: "providers[0].client_secret_file", message: "not readable: a directory, expected a file: \(directory)"),
        ConfigProblem(keyPath: "providers[0].subject_token_file", message: "not readable: a FIFO, expected a file: \(fifo)"),
        ConfigProblem(keyPath: "providers[1].private_key_file", message: "not readable: a socket, expected a PEM file: \(socket)"),
        ConfigProblem(keyPath: "providers[1].subject_token_file", message: "not readable: a directory, expected a file: \(directory)"),
        ConfigProblem(keyPath: "providers[2].client_secret_file", message: "not readable: a FIFO, expected a file: \(fifo)"),
        ConfigProblem(keyPath: "providers[3].private_key_file", message: "not readable: a directory, expected a PEM file: \(directory)"),
      ], "\(found)")
  }

  @Test("token_exchange: every key read; the OAuth 2.0 keys shared with client credentials")
  func tokenExchangeKeys() throws {
    let secret = try Self.readableFile()
    let subject = try Self.readableFile("eyJhbGciOiJub25lIn0.e30.")
    let config = try ConfigLoader.parse(
      """
      providers:
        - name: sts
          kind: token_exchange
          token_url: https://sts.example.com/token
          client_id: augmenter
          client_secret_file: \(secret)
          client_auth: client_secret_post
          subject_token_file: \(subject)
          subject_token_type: urn:ietf:params:oauth:token-type:id_token
          requested_token_type: urn:ietf:params:oauth:token-type:access_token
          audience: https://api.example.com
          scope: read
          resource: https://api.example.com/
          header: x-upstream-token
          format: Token {}
          token_type: N_A
      """, environment: [:])
    let provider = config.providers[0]
    #expect(provider.kind == .tokenExchange)
    #expect(provider.kind.isOAuth2)
    #expect(provider.subjectTokenFile == subject)
    #expect(provider.subjectTokenType == "urn:ietf:params:oauth:token-type:id_token")
    #expect(provider.requestedTokenType == "urn:ietf:params:oauth:token-type:access_token")
    #expect(provider.clientAuth == .clientSecretPost)
    #expect(provider.audience == "https://api.example.com")
    #expect(provider.tokenType == "N_A")
    #expect(provider.sourceURL == "https://sts.example.com/token")
    #expect(ConfigLoader.validate(config).isEmpty, "\(ConfigLoader.validate(config))")
    // The defaults: a JWT subject token, the server picks the issued type, a Bearer answer.
    let minimal = ProviderConfig(name: "sts", kind: .tokenExchange, url: "")
    #expect(minimal.subjectTokenType == "urn:ietf:params:oauth:token-type:jwt")
    #expect(minimal.requestedTokenType == nil)
    #expect(minimal.tokenType == "Bearer")
  }

  @Test("validate token_exchange: a missing or unreadable subject token file, missing secret, its keys refused elsewhere")
  func tokenExchangeProblems() throws {
    let found = problems(
      """
      providers:
        - name: sts
          kind: token_exchange
          token_url: http://127.0.0.1:1/token
          client_id: augmenter
          client_secret_file: /nonexistent/augmenter/secret
        - name: sts2
          kind: token_exchange
          token_url: http://127.0.0.1:1/token
          client_id: augmenter
          client_auth: private_key_jwt
          private_key_file: /nonexistent/augmenter/key
          subject_token_file: /nonexistent/augmenter/subject
          subject_token_type: ""
        - name: cc
          kind: oauth2_client_credentials
          token_url: http://127.0.0.1:1/token
          client_id: augmenter
          client_secret_file: /nonexistent/augmenter/secret
          subject_token_file: /tmp
          requested_token_type: urn:ietf:params:oauth:token-type:jwt
      """)
    let byKey = Dictionary(found.map { ($0.keyPath, $0.message) }, uniquingKeysWith: { first, _ in first })
    #expect(byKey["providers[0].subject_token_file"] == "missing; the file holding the subject token is required")
    #expect(byKey["providers[0].client_secret_file"] == "no such file: /nonexistent/augmenter/secret")
    #expect(byKey["providers[1].subject_token_file"] == "no such file: /nonexistent/augmenter/subject")
    #expect(byKey["providers[1].private_key_file"] == "no such file: /nonexistent/augmenter/key")
    #expect(byKey["providers[1].subject_token_type"] == "must not be empty")
    #expect(byKey["providers[1].client_secret_file"] == nil)
    #expect(
      byKey["providers[2].subject_token_file"] == "applies only to kind token_exchange; this provider's kind is oauth2_client_credentials")
    #expect(
      byKey["providers[2].requested_token_type"] == "applies only to kind token_exchange; this provider's kind is oauth2_client_credentials"
    )

    guard getuid() != 0 else { return }  // root reads anything
    let subject = try Self.readableFile()
    chmod(subject, 0)
    let secret = try Self.readableFile()
    let unreadable = problems(
      """
      providers:
        - name: sts
          kind: token_exchange
          token_url: http://127.0.0.1:1/token
          client_id: augmenter
          client_secret_file: \(secret)
          subject_token_file: \(subject)
      """)
    #expect(
      unreadable == [
        ConfigProblem(keyPath: "providers[0].subject_token_file", message: "not readable by this process (Permission denied): \(subject)")
      ])
  }
}
