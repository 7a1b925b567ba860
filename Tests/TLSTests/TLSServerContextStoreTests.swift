//===----------------------------------------------------------------------===//
// Augmenter — reloading the context when its files change, Kubernetes style (a `..data` symlink
// swapped atomically to a new directory).
//===----------------------------------------------------------------------===//

import Foundation
import NIOCore
import Synchronization
import TLS
import TestCertificates
import TestSupport
import Testing

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// A directory laid out like a mounted Kubernetes secret: `tls.crt` → `..data/tls.crt`,
/// `..data` → `<version>/`. `publish` swaps in a new version atomically.
struct SecretVolume {
  let directory: String
  private var version = 0

  init() throws {
    self.directory = "\(Fixtures.pki.directory)/secret-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: self.directory, withIntermediateDirectories: true)
  }

  var certificatePath: String { "\(self.directory)/tls.crt" }
  var keyPath: String { "\(self.directory)/tls.key" }

  /// Makes `certificate` and `key` (file paths) the secret's new contents.
  mutating func publish(certificate: String, key: String) throws {
    self.version += 1
    let versionDirectory = "..\(self.version)"
    let absolute = "\(self.directory)/\(versionDirectory)"
    try FileManager.default.createDirectory(atPath: absolute, withIntermediateDirectories: false)
    try FileManager.default.copyItem(atPath: certificate, toPath: "\(absolute)/tls.crt")
    try FileManager.default.copyItem(atPath: key, toPath: "\(absolute)/tls.key")
    let temporaryLink = "\(self.directory)/..data_tmp"
    try FileManager.default.createSymbolicLink(atPath: temporaryLink, withDestinationPath: versionDirectory)
    guard rename(temporaryLink, "\(self.directory)/..data") == 0 else {
      throw CocoaError(.fileWriteUnknown)
    }
    if self.version == 1 {
      try FileManager.default.createSymbolicLink(atPath: self.certificatePath, withDestinationPath: "..data/tls.crt")
      try FileManager.default.createSymbolicLink(atPath: self.keyPath, withDestinationPath: "..data/tls.key")
    }
  }

  func configuration() -> TLSServerConfiguration {
    TLSServerConfiguration(certificatePath: self.certificatePath, privateKeyPath: self.keyPath)
  }
}

extension TLSReloadOutcome {
  var isUnchanged: Bool {
    if case .unchanged = self { true } else { false }
  }
  var reloaded: TLSServerContext? {
    if case .reloaded(let context) = self { context } else { nil }
  }
  var failure: TLSError? {
    if case .failed(let error) = self { error } else { nil }
  }
}

@Suite("TLSServerContextStore: reload on change")
struct TLSServerContextStoreTests {
  @Test("unchanged → reloaded → bad pair kept out and not retried → fixed pair reloaded")
  func reloadSequence() throws {
    let first = Fixtures.server
    let second = try Fixtures.pki.issueServer()
    let third = try Fixtures.pki.issueServer()
    var volume = try SecretVolume()
    try volume.publish(certificate: first.certificatePath, key: first.keyPath)

    let store = try TLSServerContextStore(configuration: volume.configuration())
    let initial = store.current
    #expect(initial.certificateDescription.contains(first.serial))
    #expect(store.reloadIfChanged().isUnchanged)
    #expect(store.current === initial)

    try volume.publish(certificate: second.certificatePath, key: second.keyPath)
    let reloaded = try #require(store.reloadIfChanged().reloaded)
    #expect(reloaded.certificateDescription.contains(second.serial))
    #expect(store.current === reloaded)
    #expect(store.reloadIfChanged().isUnchanged)

    // A certificate with somebody else's key: refused, the good context stays.
    try volume.publish(certificate: third.certificatePath, key: first.keyPath)
    let error = try #require(store.reloadIfChanged().failure)
    #expect(error.reasons.contains { $0.contains("key values mismatch") }, "\(error)")
    #expect(store.current === reloaded)
    // The same bad bytes are not rebuilt (or reported) on the next tick.
    #expect(store.reloadIfChanged().isUnchanged)
    #expect(store.current === reloaded)

    try volume.publish(certificate: third.certificatePath, key: third.keyPath)
    let fixed = try #require(store.reloadIfChanged().reloaded)
    #expect(fixed.certificateDescription.contains(third.serial))
    #expect(store.current === fixed)
  }

  @Test("an unreadable file is reported once and keeps the current context")
  func unreadableFile() throws {
    let directory = "\(Fixtures.pki.directory)/plain-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    let certificate = "\(directory)/tls.crt"
    let key = "\(directory)/tls.key"
    try FileManager.default.copyItem(atPath: Fixtures.server.certificatePath, toPath: certificate)
    try FileManager.default.copyItem(atPath: Fixtures.server.keyPath, toPath: key)
    let store = try TLSServerContextStore(
      configuration: TLSServerConfiguration(certificatePath: certificate, privateKeyPath: key)
    )
    let initial = store.current
    try FileManager.default.removeItem(atPath: key)
    let error = try #require(store.reloadIfChanged().failure)
    #expect(error.detail == key)
    #expect(store.reloadIfChanged().isUnchanged)
    #expect(store.current === initial)
    try FileManager.default.copyItem(atPath: Fixtures.server.keyPath, toPath: key)
    // Back to the bytes of the current context, but after a failure: rebuilt and reported.
    #expect(store.reloadIfChanged().reloaded != nil)
  }

  @Test("the first load must succeed")
  func firstLoadFails() {
    #expect(throws: TLSError.self) {
      try TLSServerContextStore(
        configuration: TLSServerConfiguration(certificatePath: "/nonexistent/c.pem", privateKeyPath: "/nonexistent/k.pem")
      )
    }
  }

  @Test("watch reports reloads until cancelled")
  func watch() async throws {
    let second = try Fixtures.pki.issueServer()
    var volume = try SecretVolume()
    try volume.publish(certificate: Fixtures.server.certificatePath, key: Fixtures.server.keyPath)
    let store = try TLSServerContextStore(configuration: volume.configuration())
    let reported = Reports()
    let watcher = Task {
      await store.watch(every: .milliseconds(20)) { outcome in reported.append(outcome) }
    }
    try volume.publish(certificate: second.certificatePath, key: second.keyPath)
    // Generous bound: the watcher shares the test process's threads with every other suite.
    let context = try await eventually("the watcher to reload", timeout: .seconds(60), every: .milliseconds(5)) { reported.firstReloaded }
    #expect(context.certificateDescription.contains(second.serial))
    watcher.cancel()
    await watcher.value
    #expect(reported.count == 1, "one change, one report: \(reported.all)")
  }

  @Test("after a reload, a new connection gets the new certificate and an open one keeps working")
  func reloadWithOpenConnection() async throws {
    let second = try Fixtures.pki.issueServer()
    var volume = try SecretVolume()
    try volume.publish(certificate: Fixtures.server.certificatePath, key: Fixtures.server.keyPath)
    let store = try TLSServerContextStore(configuration: volume.configuration())
    try await TestServer.with(context: { store.current }) { server in

      let before = try await TLSTestClient.connect(port: server.port, configuration: Fixtures.clientConfiguration())
      _ = try await before.handshake()
      #expect(try await before.peerCertificateSerial() == Fixtures.server.serial)

      try volume.publish(certificate: second.certificatePath, key: second.keyPath)
      #expect(store.reloadIfChanged().reloaded != nil)

      let after = try await TLSTestClient.connect(port: server.port, configuration: Fixtures.clientConfiguration())
      _ = try await after.handshake()
      #expect(try await after.peerCertificateSerial() == second.serial)
      try await after.expectEcho(ByteBuffer(string: "new"))

      try await before.expectEcho(ByteBuffer(string: "old connection still works"))
      await before.close()
      await after.close()

      // The same seen from openssl s_client.
      let output = try await sClient(port: server.port, arguments: ["-showcerts"])
      #expect(output.contains("Verify return code: 0 (ok)"), "\(output)")
      let pem = try String(contentsOfFile: second.certificatePath, encoding: .utf8)
      let body = pem.split(separator: "\n").dropFirst().prefix(3).joined(separator: "\n")
      #expect(output.contains(body))
    }
  }
}

/// Outcomes reported by `watch`, from any thread.
final class Reports: Sendable {
  private let outcomes = Mutex<[TLSReloadOutcome]>([])
  func append(_ outcome: TLSReloadOutcome) { self.outcomes.withLock { $0.append(outcome) } }
  var first: TLSReloadOutcome? { self.outcomes.withLock { $0.first } }
  var all: [TLSReloadOutcome] { self.outcomes.withLock { $0 } }
  /// The first outcome that made a new context current.
  var firstReloaded: TLSServerContext? { self.all.lazy.compactMap(\.reloaded).first }
  var count: Int { self.outcomes.withLock { $0.count } }
}
