//===----------------------------------------------------------------------===//
// Provider files read on every fetch: only regular files, bounded, never blocking.
//===----------------------------------------------------------------------===//

import AugmenterCore
import Foundation
import Testing

@testable import Providers

@Suite struct CredentialFileTests {
  private static func directory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("credential-\(UUID().uuidString.prefix(8))")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
  }

  /// Runs `body` on a thread of its own; if it has not returned after 5 s (blocked opening or
  /// reading `fifo`), a writer opens and closes the FIFO to release it, and the test fails.
  private static func withinFiveSeconds(fifo: String, _ body: @escaping @Sendable () -> String) -> String? {
    let done = DispatchSemaphore(value: 0)
    let result = LockedBox()
    Thread.detachNewThread {
      result.set(body())
      done.signal()
    }
    if done.wait(timeout: .now() + 5) == .timedOut {
      let writer = open(fifo, O_WRONLY | O_NONBLOCK)
      if writer >= 0 { close(writer) }
      _ = done.wait(timeout: .now() + 5)
      return nil
    }
    return result.value
  }

  final class LockedBox: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: String?
    func set(_ value: String) { lock.withLock { stored = value } }
    var value: String? { lock.withLock { stored } }
  }

  @Test("a FIFO swapped in for a secret, a token or a key is refused at once, without blocking the refresher")
  func fifosAreRefusedWithoutBlocking() throws {
    let fifo = try Self.directory().appendingPathComponent("secret").path
    #expect(mkfifo(fifo, 0o600) == 0)
    let readers: [(String, @Sendable () throws -> Void)] = [
      ("credential", { _ = try CredentialFile.read(fifo, key: "client_secret_file") }),
      (
        "key",
        {
          _ = try JWTAssertionSigner.assertion(clientID: "c", audience: "a", keyFile: fifo, algorithm: .es256, keyID: nil)
        }
      ),
      ("file provider", { _ = try FileProviderFetcher.readContent(of: ProviderFile(name: "x-token", path: fifo), limit: 1024) }),
    ]
    for (what, read) in readers {
      let outcome = Self.withinFiveSeconds(fifo: fifo) {
        do {
          try read()
          return "read"
        } catch {
          return "\(error)"
        }
      }
      let message = try #require(outcome, "\(what): blocked on the FIFO")
      #expect(message.hasSuffix("\(fifo): not a regular file") || message.contains("(\(fifo)): not a regular file"), "\(what): \(message)")
    }
  }

  @Test("a credential file over 64 KiB is refused by size; a good one is read trimmed")
  func boundedAndTrimmed() throws {
    let directory = try Self.directory()
    let big = directory.appendingPathComponent("big").path
    try String(repeating: "a", count: CredentialFile.maxBytes + 1).write(toFile: big, atomically: true, encoding: .utf8)
    #expect(throws: ProviderFetchError.self) { try CredentialFile.read(big, key: "client_secret_file") }
    do {
      _ = try CredentialFile.read(big, key: "client_secret_file")
    } catch {
      #expect("\(error)" == "client_secret_file \(big) is larger than \(CredentialFile.maxBytes) bytes")
    }
    let good = directory.appendingPathComponent("good").path
    try "  s3cr3t-value \n".write(toFile: good, atomically: true, encoding: .utf8)
    #expect(try CredentialFile.read(good, key: "client_secret_file") == "s3cr3t-value")
  }
}
