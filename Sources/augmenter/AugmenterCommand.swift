//===----------------------------------------------------------------------===//
// Augmenter — the command line: serve, validate, --version, --help.
//===----------------------------------------------------------------------===//

import ArgumentParser
import AugmenterCore
import AugmenterServer
import Foundation
import Logging
import ServiceLifecycle
import UnixSignals

@main
struct AugmenterCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "augmenter",
    abstract: "Answers Envoy ext_authz checks with headers from polled providers.",
    version: AugmenterVersion.current,
    subcommands: [Serve.self, Validate.self, ConfigReferenceCommand.self]
  )
}

/// Loads the configuration the way both subcommands (and a reload) do: a file, or the defaults,
/// plus environment, TLS files included.
private func loadConfig(path: String?) throws(ConfigError) -> AugmenterConfig {
  try ServiceConfiguration.load(path: path, environment: ProcessInfo.processInfo.environment)
}

struct Serve: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract:
      "Run the service (check port: gRPC ext_authz + gRPC health; admin port: /healthz /readyz /status /metrics, POST /reload). SIGHUP or a change of the file reloads the configuration."
  )

  @Option(name: .long, help: "Configuration file (YAML or JSON). Without it, built-in defaults apply.")
  var config: String?

  func run() async throws {
    let loaded: AugmenterConfig
    do throws(ConfigError) {
      // TLS files are loaded as the listeners will load them, so a bad certificate or key stops
      // the start with the same message `validate` prints.
      loaded = try loadConfig(path: self.config)
    } catch {
      FileHandle.standardError.write(Data("augmenter: invalid configuration\n\(error.description)\n".utf8))
      throw ExitCode(2)
    }
    let level = Logger.Level(rawValue: loaded.logLevel) ?? .info
    let format = loaded.logFormat
    LoggingSystem.bootstrap { label in
      switch format {
      case .text:
        var handler = StreamLogHandler.standardError(label: label)
        handler.logLevel = level
        return handler
      case .json:
        var handler = JSONLogHandler(label: label)
        handler.logLevel = level
        return handler
      }
    }
    let logger = Logger(label: "augmenter")
    let service = AugmenterService(
      config: loaded, logger: logger, configPath: self.config, environment: ProcessInfo.processInfo.environment)
    let group = ServiceGroup(
      configuration: .init(
        services: [.init(service: service)],
        gracefulShutdownSignals: [.sigterm, .sigint],
        logger: logger
      )
    )
    try await group.run()
  }
}

struct Validate: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Check a configuration file; print every problem with its key path; exit 1 on any."
  )

  @Argument(help: "Configuration file (YAML or JSON).")
  var file: String

  func run() throws {
    do throws(ConfigError) {
      let config = try loadConfig(path: self.file)
      print(
        "\(self.file): ok (\(config.providers.count) provider(s), \(config.headers.count) static header(s), listen \(config.listen), admin \(config.adminListen))"
      )
    } catch {
      FileHandle.standardError.write(Data("\(self.file): \(error.problems.count) problem(s)\n".utf8))
      for problem in error.problems {
        FileHandle.standardError.write(Data("  \(problem)\n".utf8))
      }
      throw ExitCode(1)
    }
  }
}

struct ConfigReferenceCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "config-reference",
    abstract: "Print the configuration reference (Markdown, as committed in docs/configuration.md)."
  )

  func run() throws {
    print(ConfigReference.markdown(), terminator: "")
  }
}
