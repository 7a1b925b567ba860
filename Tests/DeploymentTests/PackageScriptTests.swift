//===----------------------------------------------------------------------===//
// Deployment tests: Release package (scripts/package).
//===----------------------------------------------------------------------===//

import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// Issue 3, item 6: `scripts/package` builds the release artefact, and the packaged binary starts,
/// answers a health check (and a check), and exits cleanly on SIGTERM.
///
/// The release build is slow (minutes on two cores), hence the generous time limit. It uses its own
/// scratch path, `.build-release` (git-ignored), so it never disturbs the debug build in `.build`,
/// and a second run only rebuilds what changed.
@Suite("Release package (scripts/package)")
struct PackageScriptTests {
  static let scratchPath = ".build-release"

  @Test(
    "scripts/package: static Swift runtime, needs only runtime-image libraries; dist/augmenter serves and exits 0 on SIGTERM",
    .timeLimit(.minutes(40)))
  func packageStartsAndAnswersHealth() async throws {
    let package = try await Command.run(
      Repository.url("scripts/package").path, ["--scratch-path", Self.scratchPath],
      environment: Command.augmenterEnvironment(), timeout: .seconds(38 * 60))
    try #require(package.succeeded, "scripts/package failed: \(package)")
    #expect(package.stdout.contains("==> dist/augmenter --version: "), "\(package.stdout.suffix(2_000))")
    let binary = Repository.url("dist/augmenter").path
    try #require(FileManager.default.isExecutableFile(atPath: binary), "no dist/augmenter after scripts/package")

    try await Self.expectOnlyRuntimeImageLibraries(binary)
    try await Self.expectServes(binary)
  }

  /// `ldd`: no Swift runtime library, libnghttp2 and libssl present, and every library comes from a package
  /// the Dockerfile's runtime stage has.
  static func expectOnlyRuntimeImageLibraries(_ binary: String) async throws {
    let ldd = try await Command.run(try Tools.system("ldd", hint: "install Debian's libc-bin"), [binary])
    try #require(ldd.succeeded, "\(ldd)")
    #expect(!ldd.stdout.contains("libswift"), "the Swift runtime must be static:\n\(ldd.stdout)")
    #expect(ldd.stdout.contains("libnghttp2"), "libnghttp2 should be linked from Debian:\n\(ldd.stdout)")
    #expect(ldd.stdout.contains("libssl.so.3"), "OpenSSL 3 (libssl3) should be linked from Debian:\n\(ldd.stdout)")
    #expect(!ldd.stdout.contains("not found"), "\(ldd.stdout)")

    let dpkg = try Tools.system("dpkg", hint: "this test maps libraries to Debian packages")
    let allowed = try DockerfileTests.runtimeLibraryPackages()
    for line in ldd.stdout.split(separator: "\n") {
      guard let path = Self.libraryPath(String(line)) else { continue }
      let owner = try await Self.owningPackage(path, dpkg: dpkg)
      let package = try #require(owner, "no Debian package owns \(path) (from `\(line)`)")
      #expect(
        allowed.contains(package),
        "\(path) comes from \(package), which the Dockerfile's runtime stage does not install (has: \(allowed.sorted()))")
    }
  }

  /// Starts `dist/augmenter serve` against a tiny provider, then: /healthz 200, /readyz 200, an
  /// HTTP-mode check on the check port gets the provider's header, SIGTERM ends it with status 0.
  static func expectServes(_ binary: String) async throws {
    let scratch = FileManager.default.temporaryDirectory
      .appendingPathComponent("package-serve-\(UUID().uuidString.prefix(8))")
    let providerRoot = scratch.appendingPathComponent("provider")
    try FileManager.default.createDirectory(at: providerRoot, withIntermediateDirectories: true)
    var keepScratch = false
    defer { if !keepScratch { try? FileManager.default.removeItem(at: scratch) } }
    try #"{"x-tenant": "acme"}"#.write(to: providerRoot.appendingPathComponent("headers"), atomically: true, encoding: .utf8)

    let ports = try FreePort.take(3)
    let (checkPort, adminPort, providerPort) = (ports[0], ports[1], ports[2])
    let provider = try ChildProcess.spawn(
      name: "provider", executable: try Tools.python(),
      arguments: ["-m", "http.server", String(providerPort), "--bind", "127.0.0.1", "--directory", providerRoot.path],
      logURL: scratch.appendingPathComponent("provider.log"))
    defer { provider.kill() }

    let config = scratch.appendingPathComponent("config.yaml")
    try """
    listen: 127.0.0.1:\(checkPort)
    admin_listen: 127.0.0.1:\(adminPort)
    providers:
      - name: local
        url: http://127.0.0.1:\(providerPort)/headers
        ttl: 60s
        timeout: 2s
    on_unavailable: deny
    shutdown_grace_period: 2s
    """.write(to: config, atomically: true, encoding: .utf8)

    // The service-link variables Kubernetes would inject for a Service named "augmenter" (the
    // manifests turn them off): they share Augmenter's override prefix and must change nothing.
    let serviceLinks = [
      "AUGMENTER_SERVICE_HOST": "10.0.0.10", "AUGMENTER_SERVICE_PORT": "9191",
      "AUGMENTER_PORT": "tcp://10.0.0.10:9191", "AUGMENTER_PORT_9191_TCP_PORT": "9191",
    ]
    let server = try ChildProcess.spawn(
      name: "augmenter", executable: binary, arguments: ["serve", "--config", config.path],
      environment: Command.augmenterEnvironment(serviceLinks), logURL: scratch.appendingPathComponent("augmenter.log"))
    defer { server.kill() }

    do {
      let curl = try Tools.system("curl", hint: "install Debian's curl (scripts/test does)")
      let admin = "http://127.0.0.1:\(adminPort)"
      try await Self.eventually("GET /healthz answers 200", server: server) {
        try await Self.status(curl, "\(admin)/healthz") == 200
      }
      try await Self.eventually("GET /readyz answers 200 once the provider was fetched", server: server) {
        try await Self.status(curl, "\(admin)/readyz") == 200
      }
      // An HTTP-mode check over HTTP/1.1: 200 carrying the provider's header.
      let check = try await Command.run(
        curl, ["-sS", "--http1.1", "--max-time", "5", "-o", "/dev/null", "-D", "-", "http://127.0.0.1:\(checkPort)/ext-authz/anything"])
      #expect(check.succeeded, "\(check)\n\(server.log())")
      #expect(check.stdout.hasPrefix("HTTP/1.1 200"), "\(check.stdout)\n\(server.log())")
      #expect(check.stdout.lowercased().contains("x-tenant: acme"), "\(check.stdout)\n\(server.log())")

      server.send(signal: SIGTERM)
      let exit = await server.waitForExit(timeout: .seconds(20))
      let ended = try #require(exit, "dist/augmenter still running 20s after SIGTERM")
      #expect(ended == .exited(0), "after SIGTERM: \(ended)\n\(server.log())")
    } catch {
      keepScratch = true
      let logs = "--- augmenter log ---\n\(server.log())\n--- provider log ---\n\(provider.log())"
      FileHandle.standardError.write(Data("dist/augmenter serve failed (files in \(scratch.path)):\n\(logs)\n".utf8))
      throw error
    }
  }

  // MARK: - Helpers

  /// The file a line of `ldd` output names (`name => /path (addr)` or `/path (addr)`); `nil` for
  /// the vDSO and for lines naming no file.
  static func libraryPath(_ line: String) -> String? {
    let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
    if let arrow = words.firstIndex(of: "=>"), arrow + 1 < words.count, words[arrow + 1].hasPrefix("/") {
      return words[arrow + 1]
    }
    if let first = words.first, first.hasPrefix("/") { return first }
    return nil
  }

  /// The Debian package that owns `path` (trying the path as given, resolved, and across /usr-merge).
  static func owningPackage(_ path: String, dpkg: String) async throws -> String? {
    let resolved = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
    var candidates = [path, resolved]
    for candidate in [path, resolved] {
      candidates.append(candidate.hasPrefix("/usr/") ? String(candidate.dropFirst(4)) : "/usr" + candidate)
    }
    for candidate in candidates {
      let result = try await Command.run(dpkg, ["-S", candidate])
      if result.succeeded, let first = result.stdout.split(separator: "\n").first,
        let package = first.split(separator: ":").first
      {
        return String(package)
      }
    }
    return nil
  }

  /// The HTTP status `curl` got for `url`, or nil when it could not connect.
  static func status(_ curl: String, _ url: String) async throws -> Int? {
    let result = try await Command.run(curl, ["-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "2", url])
    return result.succeeded ? Int(result.stdout) : nil
  }

  /// Polls `probe` every 100 ms for up to 30 s; fails early if the server exited.
  static func eventually(_ what: String, server: ChildProcess, _ probe: () async throws -> Bool) async throws {
    try await TestSupport.eventually(what, timeout: .seconds(30), retryingErrors: false) { () -> Void? in
      if try await probe() { return () }
      if !server.isRunning { throw TestFailure("\(server.name) exited while waiting until \(what)") }
      return nil
    }
  }
}
