//===----------------------------------------------------------------------===//
// The `file` provider kind: reading, formatting, errors without content, and change detection
// across a Kubernetes-style `..data` symlink swap.
//===----------------------------------------------------------------------===//

import AugmenterCore
import Foundation
import Testing

@testable import Providers

@Suite struct FileProviderFetcherTests {
  /// A directory laid out like a ConfigMap or projected volume: `name -> ..data/name`,
  /// `..data -> ..<version>`.
  struct ProjectedDirectory {
    let root: URL
    var version = 0

    init() throws {
      root = FileManager.default.temporaryDirectory.appendingPathComponent("augmenter-files-\(UUID().uuidString)")
      try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    }

    func path(_ name: String) -> String { root.appendingPathComponent(name).path }

    /// Writes a new version of the files and swaps `..data` to it atomically (rename over).
    mutating func publish(_ files: [String: String]) throws {
      version += 1
      let versioned = root.appendingPathComponent("..v\(version)")
      try FileManager.default.createDirectory(at: versioned, withIntermediateDirectories: true)
      for (name, content) in files {
        try Data(content.utf8).write(to: versioned.appendingPathComponent(name))
        let link = root.appendingPathComponent(name).path
        if (try? FileManager.default.destinationOfSymbolicLink(atPath: link)) == nil {
          try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: "..data/\(name)")
        }
      }
      let temporary = root.appendingPathComponent("..data_tmp").path
      try FileManager.default.createSymbolicLink(atPath: temporary, withDestinationPath: "..v\(version)")
      #expect(rename(temporary, root.appendingPathComponent("..data").path) == 0)
    }
  }

  func provider(_ directory: ProjectedDirectory, _ files: [ProviderFile]) -> ProviderConfig {
    ProviderConfig(name: "svid", kind: .file, url: "", files: files)
  }

  @Test func readsTrimsAndFormats() async throws {
    var directory = try ProjectedDirectory()
    try directory.publish(["token": "  abc.def.ghi\n\n", "raw": "plain"])
    let config = provider(
      directory,
      [
        ProviderFile(name: "authorization", path: directory.path("token"), format: "Bearer {}"),
        ProviderFile(name: "x-raw", path: directory.path("raw")),
      ])
    let answer = try await FileProviderFetcher().fetch(config)
    let headers = try ProviderAnswerValidator.validate(answer).get()
    #expect(headers == [HeaderField(name: "authorization", value: "Bearer abc.def.ghi"), HeaderField(name: "x-raw", value: "plain")])
  }

  @Test func signatureChangesAcrossASymlinkSwapAndNotOtherwise() async throws {
    var directory = try ProjectedDirectory()
    try directory.publish(["token": "first"])
    let config = provider(directory, [ProviderFile(name: "x-token", path: directory.path("token"))])
    let fetcher = FileProviderFetcher()
    let before = try #require(fetcher.sourceSignature(config))
    #expect(fetcher.sourceSignature(config) == before)
    try directory.publish(["token": "second"])
    #expect(fetcher.sourceSignature(config) != before)
    let headers = try ProviderAnswerValidator.validate(try await fetcher.fetch(config)).get()
    #expect(headers == [HeaderField(name: "x-token", value: "second")])
  }

  @Test func errorsNameTheKeyAndPathNeverTheContent() async throws {
    var directory = try ProjectedDirectory()
    try directory.publish(["token": "SECRET-CONTENT"])
    let missing = provider(directory, [ProviderFile(name: "x-token", path: directory.path("absent"))])
    await #expect(throws: ProviderFetchError.self) { try await FileProviderFetcher().fetch(missing) }
    do {
      _ = try await FileProviderFetcher().fetch(missing)
    } catch {
      #expect("\(error)" == "cannot read files.x-token (\(directory.path("absent"))): No such file or directory")
    }
    var big = provider(directory, [ProviderFile(name: "x-token", path: directory.path("token"))])
    big.maxAnswerBytes = 4
    do {
      _ = try await FileProviderFetcher().fetch(big)
      Issue.record("a file over max_answer_bytes was read")
    } catch {
      #expect(!"\(error)".contains("SECRET"))
      #expect("\(error)".contains("larger than max_answer_bytes"))
    }
  }
}
