//===----------------------------------------------------------------------===//
// The command line: which subcommand and options a command line selects, and what `validate`
// decides. (Serving is tested through the binary in EndToEndTests and DeploymentTests.)
//===----------------------------------------------------------------------===//

import ArgumentParser
import AugmenterCore
import Foundation
import Testing

@testable import augmenter

@Suite struct AugmenterCommandTests {
  @Test func serveTakesAnOptionalConfigFile() throws {
    let withFile = try AugmenterCommand.parseAsRoot(["serve", "--config", "/etc/augmenter/config.yaml"])
    #expect((withFile as? Serve)?.config == "/etc/augmenter/config.yaml")
    let withoutFile = try AugmenterCommand.parseAsRoot(["serve"])
    let serve = try #require(withoutFile as? Serve)
    #expect(serve.config == nil)
  }

  @Test func validateTakesTheFileAsAnArgument() throws {
    let command = try AugmenterCommand.parseAsRoot(["validate", "config.yaml"])
    #expect((command as? Validate)?.file == "config.yaml")
    // The file is required: without it, parsing fails with a message naming the argument.
    #expect(throws: (any Error).self) { try AugmenterCommand.parseAsRoot(["validate"]) }
  }

  @Test func unknownOptionsAndSubcommandsAreRefusedByName() {
    for arguments in [["serve", "--confg", "x"], ["check"]] {
      do {
        _ = try AugmenterCommand.parseAsRoot(arguments)
        Issue.record("\(arguments) parsed")
      } catch {
        let message = AugmenterCommand.message(for: error)
        #expect(message.contains(arguments.last == "x" ? "--confg" : "check"), "\(message)")
      }
    }
  }

  @Test func versionIsTheBuildVersion() {
    #expect(AugmenterCommand.configuration.version == AugmenterVersion.current)
    #expect(!AugmenterVersion.current.isEmpty)
  }

  @Test func validateAcceptsAGoodFileAndExitsOneOnABadOne() throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cli-\(UUID().uuidString.prefix(8))")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let good = directory.appendingPathComponent("good.yaml")
    try "listen: 127.0.0.1:9191\nheaders:\n  x-tenant: acme\n".write(to: good, atomically: true, encoding: .utf8)
    let bad = directory.appendingPathComponent("bad.yaml")
    try "listen: 127.0.0.1:9191\nlisten_port: 1\n".write(to: bad, atomically: true, encoding: .utf8)

    var validate = try #require(try AugmenterCommand.parseAsRoot(["validate", good.path]) as? Validate)
    try validate.run()

    validate = try #require(try AugmenterCommand.parseAsRoot(["validate", bad.path]) as? Validate)
    #expect(throws: ExitCode(1)) { try validate.run() }
    let missing = try #require(
      try AugmenterCommand.parseAsRoot(["validate", directory.appendingPathComponent("none.yaml").path]) as? Validate)
    #expect(throws: ExitCode(1)) { try missing.run() }
  }

  /// (What it prints is compared with docs/configuration.md by ConfigKeyWalkTests.)
  @Test func configReferenceIsASubcommand() throws {
    let command = try AugmenterCommand.parseAsRoot(["config-reference"])
    #expect(command is ConfigReferenceCommand)
  }
}
