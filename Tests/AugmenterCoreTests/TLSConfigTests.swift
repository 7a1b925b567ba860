// TLS configuration: listener `tls` / `admin_tls`, provider `tls`, their validation and
// environment overrides; the caller's TLS identity in rules (`peer_identity`) and templates.

import AugmenterCore
import Foundation
import Testing

@Suite("TLS configuration and peer identity")
struct TLSConfigTests {
  /// Three readable files in a fresh directory (contents are not parsed here).
  static func files() throws -> (cert: String, key: String, ca: String) {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("augmenter-tls-config-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    let names = ["tls.crt", "tls.key", "ca.crt"].map { directory.appendingPathComponent($0).path }
    for name in names { try Data("pem".utf8).write(to: URL(fileURLWithPath: name)) }
    return (names[0], names[1], names[2])
  }

  @Test("listener tls: every key read, version spellings normalised, defaults otherwise")
  func listenerKeys() throws {
    let (cert, key, ca) = try Self.files()
    let config = try ConfigLoader.parse(
      """
      tls:
        cert: \(cert)
        key: \(key)
        client_ca: \(ca)
        require_client_cert: true
        min_version: TLSv1.3
        ciphers: ECDHE-RSA-AES128-GCM-SHA256
        cipher_suites: TLS_AES_128_GCM_SHA256
        handshake_timeout: 3s
        reload_interval: 500ms
      admin_tls:
        cert: \(cert)
        key: \(key)
      """, environment: [:])
    #expect(
      config.tls
        == ListenerTLSConfig(
          cert: cert, key: key, clientCA: ca, requireClientCert: true, minVersion: "1.3",
          ciphers: "ECDHE-RSA-AES128-GCM-SHA256", cipherSuites: "TLS_AES_128_GCM_SHA256",
          handshakeTimeout: .seconds(3), reloadInterval: .milliseconds(500)))
    #expect(config.adminTLS == ListenerTLSConfig(cert: cert, key: key))
    #expect(config.adminTLS?.minVersion == "1.2")
    #expect(config.adminTLS?.handshakeTimeout == .seconds(10))
    #expect(try ConfigLoader.parse("listen: 127.0.0.1:1", environment: [:]).tls == nil)
  }

  @Test("listener tls problems name the key and say what to do")
  func listenerProblems() throws {
    let (cert, _, _) = try Self.files()
    let found = problems(
      """
      tls:
        cert: \(cert)
        require_client_cert: true
        min_version: "1.1"
        handshake_timeout: 0s
        sni: x
      admin_tls:
        cert: /nonexistent/augmenter/tls.crt
        key: /tmp
      """)
    let byKey = Dictionary(found.map { ($0.keyPath, $0.message) }, uniquingKeysWith: { first, _ in first })
    #expect(byKey["tls.key"]?.contains("missing; TLS needs a certificate (cert) and its private key (key)") == true)
    #expect(byKey["tls.require_client_cert"]?.contains("needs client_ca") == true)
    #expect(byKey["tls.min_version"] == "expected 1.2 or 1.3, got \"1.1\"")
    #expect(byKey["tls.handshake_timeout"] == "must be longer than 0s")
    #expect(byKey["tls.sni"]?.contains("unknown key") == true)
    #expect(byKey["admin_tls.cert"] == "no such file: /nonexistent/augmenter/tls.crt")
    #expect(byKey["admin_tls.key"] == "not readable: a directory, expected a PEM file: /tmp")
    #expect(byKey["tls.cert"] == nil)
  }

  @Test("provider tls: a private CA and a client certificate, https only, cert and key together")
  func providerTLS() throws {
    let (cert, key, ca) = try Self.files()
    let config = try ConfigLoader.parse(
      "providers:\n" + providerYAML(url: "https://idp.internal/headers", "tls:\n  ca: \(ca)\n  cert: \(cert)\n  key: \(key)"),
      environment: [:])
    #expect(config.providers[0].tls == ProviderTLSConfig(ca: ca, cert: cert, key: key))

    let found = problems(
      "providers:\n" + providerYAML(name: "plain", "tls:\n  ca: \(ca)")
        + providerYAML(name: "half", url: "https://idp.internal/headers", "tls:\n  cert: \(cert)"))
    #expect(found.contains(ConfigProblem(keyPath: "providers[0].tls", message: "applies only to an https:// url")))
    #expect(
      found.contains(
        ConfigProblem(keyPath: "providers[1].tls.key", message: "missing; a client certificate (cert) needs its private key (key)")))
  }

  @Test("environment overrides reach listener and provider tls keys")
  func environment() throws {
    let (cert, key, ca) = try Self.files()
    let config = try ConfigLoader.parse(
      "providers:\n" + providerYAML(url: "https://idp.internal/headers"),
      environment: [
        "AUGMENTER_TLS__CERT": cert, "AUGMENTER_TLS__KEY": key, "AUGMENTER_TLS__MIN_VERSION": "1.3",
        "AUGMENTER_ADMIN_TLS__CERT": cert, "AUGMENTER_ADMIN_TLS__KEY": key,
        "AUGMENTER_PROVIDERS__0__TLS__CA": ca,
      ])
    #expect(config.tls == ListenerTLSConfig(cert: cert, key: key, minVersion: "1.3"))
    #expect(config.adminTLS == ListenerTLSConfig(cert: cert, key: key))
    #expect(config.providers[0].tls == ProviderTLSConfig(ca: ca))

    let found = problems(
      "providers:\n" + providerYAML(url: "https://idp.internal/headers"),
      environment: ["AUGMENTER_PROVIDERS__0__TLS__CAFILE": ca, "AUGMENTER_TLS__CERT": "/nonexistent/x.pem"])
    #expect(found.contains { $0.keyPath == "AUGMENTER_PROVIDERS__0__TLS__CAFILE" && $0.message.contains("unknown key \"cafile\"") })
    #expect(
      found.contains {
        $0.keyPath == "tls.cert" && $0.message == "no such file: /nonexistent/x.pem (set by environment variable AUGMENTER_TLS__CERT)"
      })
  }

  @Test("rules match the caller's identity by pattern, case-sensitively; a plaintext caller matches none")
  func peerIdentityMatch() throws {
    let config = try ConfigLoader.parse(
      """
      rules:
        - match: {peer_identity: ["spiffe://cluster.local/ns/edge/sa/*", "CN=envoy,O=Example"]}
          deny: {status: 403}
      """, environment: [:])
    let match = try #require(config.rules.first?.match)
    func request(_ identity: String?) -> CheckRequestAttributes {
      CheckRequestAttributes(method: "GET", path: "/", authority: "a", scheme: "https", peerIdentity: identity)
    }
    #expect(match.matches(request("spiffe://cluster.local/ns/edge/sa/gateway"), clientAddress: nil))
    #expect(match.matches(request("CN=envoy,O=Example"), clientAddress: nil))
    #expect(!match.matches(request("spiffe://cluster.local/ns/EDGE/sa/gateway"), clientAddress: nil))
    #expect(!match.matches(request("spiffe://cluster.local/ns/other/sa/gateway"), clientAddress: nil))
    #expect(!match.matches(request(nil), clientAddress: nil))

    let found = problems("rules:\n  - match: {peer_identity: \"\"}\n    deny: {status: 403}")
    #expect(found.contains { $0.keyPath == "rules[0].match.peer_identity" && $0.message.contains("expected an identity pattern") })
  }

  @Test("{peer_identity} renders the caller's identity, nothing without one")
  func peerIdentityTemplate() throws {
    let template = try Template("caller={peer_identity}")
    let request = CheckRequestAttributes(method: "GET", path: "/", authority: "a", scheme: "https", peerIdentity: "spiffe://td/ns/a/sa/b")
    #expect(template.render(request, clientAddress: nil, provider: { _, _ in nil }) == "caller=spiffe://td/ns/a/sa/b")
    var plain = request
    plain.peerIdentity = nil
    #expect(template.render(plain, clientAddress: nil, provider: { _, _ in nil }) == "caller=")
  }
}
