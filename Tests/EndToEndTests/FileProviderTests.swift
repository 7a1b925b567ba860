//===----------------------------------------------------------------------===//
// End-to-end tests: the file provider across a Kubernetes-style `..data` symlink swap.
//===----------------------------------------------------------------------===//

import Foundation
import TestSupport
import Testing

extension EndToEnd {
  /// Header values from files another agent rewrites, the way the kubelet updates a ConfigMap or
  /// projected volume: a new timestamped directory, then `..data` swapped to it by rename.
  @Suite("File provider")
  struct FileProvider {
    /// Writes `content` as a new version of `token` under `root` and swaps `..data` to it.
    static func publish(_ content: String, version: Int, in root: URL) throws {
      let versioned = root.appendingPathComponent("..2026_12_07_v\(version)")
      try FileManager.default.createDirectory(at: versioned, withIntermediateDirectories: true)
      try Data("\(content)\n".utf8).write(to: versioned.appendingPathComponent("token"))
      let link = root.appendingPathComponent("token").path
      if (try? FileManager.default.destinationOfSymbolicLink(atPath: link)) == nil {
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: "..data/token")
      }
      let temporary = root.appendingPathComponent("..data_tmp").path
      try FileManager.default.createSymbolicLink(atPath: temporary, withDestinationPath: versioned.lastPathComponent)
      guard rename(temporary, root.appendingPathComponent("..data").path) == 0 else {
        throw TestFailure("rename ..data_tmp: errno \(errno)")
      }
      if version > 1 {
        try? FileManager.default.removeItem(at: root.appendingPathComponent("..2026_12_07_v\(version - 1)"))
      }
    }

    @Test("a symlink swap of the directory is served within the watch interval, long before ttl; /status shows no value")
    func symlinkSwap() async throws {
      try await withTestScope("file-provider-swap") { scope in
        let root = scope.file("projected")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        try Self.publish("first-SECRET-1", version: 1, in: root)
        let upstream = try await EchoUpstream.start(scope: scope)
        let augmenter = try await AugmenterProcess.start(scope: scope) { checkPort, adminPort in
          """
          listen: 127.0.0.1:\(checkPort)
          admin_listen: 127.0.0.1:\(adminPort)
          log_level: debug
          providers:
            - name: projected
              kind: file
              files:
                authorization: {path: "\(root.appendingPathComponent("token").path)", format: "Bearer {}"}
              ttl: 10m
              watch_interval: 200ms

          """
        }
        let envoy = try await EnvoyProcess.start(scope: scope, augmenterPort: augmenter.checkPort, upstreamPort: upstream.port)
        try await augmenter.waitUntilReady()

        func served() async throws -> String? {
          let path = "/probe/\(UUID().uuidString)"
          _ = try await envoy.send(path: path)
          return upstream.request(uri: path)?.values("authorization").first
        }
        #expect(try await served() == "Bearer first-SECRET-1")

        for version in 2...3 {
          try Self.publish("next-SECRET-\(version)", version: version, in: root)
          let swapped = Date()
          try await eventually("the swapped file to be served", timeout: .seconds(5), every: .milliseconds(50)) {
            try await served() == "Bearer next-SECRET-\(version)" ? true : nil
          }
          // The ttl is 10 minutes: only the watch can have picked it up this soon.
          #expect(Date().timeIntervalSince(swapped) < 3)
        }

        // A file that disappears is a failed refresh: the last value stays, and the error names the path.
        try FileManager.default.removeItem(at: root.appendingPathComponent("..data"))
        let failing = try await eventually("/status to report the missing file", timeout: .seconds(5)) {
          try await augmenter.status().providers.first.flatMap { ($0.consecutiveFailures ?? 0) > 0 ? $0 : nil }
        }
        #expect(failing.lastError?.contains("files.authorization") == true, "\(failing.lastError ?? "")")
        #expect(try await served() == "Bearer next-SECRET-3")

        let status = try await augmenter.status().response.text
        #expect(!status.contains("SECRET"))
        #expect(!augmenter.process.log().contains("SECRET"))
      }
    }
  }
}
