//===----------------------------------------------------------------------===//
// End-to-end tests: Envoy configuration files.
//===----------------------------------------------------------------------===//

import Foundation
import TestSupport
import Testing

extension EndToEnd {
  /// Every file in `envoy/` is a valid Envoy 1.40 configuration as shipped.
  @Suite("Envoy configuration files")
  struct EnvoyConfigs {
    static var files: [String] {
      let names = (try? FileManager.default.contentsOfDirectory(atPath: TestEnvironment.envoyConfigDirectory.path)) ?? []
      return names.filter { $0.hasSuffix(".yaml") }.sorted()
    }

    @Test("envoy/ holds the gRPC ext_authz configuration")
    func directoryHasConfigs() {
      #expect(Self.files.contains("ext-authz-grpc.yaml"), "files: \(Self.files)")
    }

    @Test("envoy --mode validate accepts the file as-is", arguments: files)
    func validates(file: String) async throws {
      try await withTestScope("validate-\(file)") { scope in
        // The TLS examples name placeholder files (/etc/envoy/tls/...): validated with test files there.
        let path = try EnvoyTLSExample.validationPath(of: file, scope: scope)
        let envoy = try ChildProcess.spawn(
          name: "envoy-validate", executable: try TestEnvironment.envoyBinary(),
          arguments: ["--mode", "validate", "--disable-hot-restart", "-c", path], scope: scope)
        let status = await envoy.waitForExit(timeout: .seconds(60))
        #expect(status == .exited(0), "envoy --mode validate \(file): \(String(describing: status))\n\(envoy.log())")
        #expect(envoy.log().contains("OK"))
      }
    }

    @Test("the default ports appear once each, so tests and scripts/demo can substitute them", arguments: files)
    func defaultPortsAreSubstitutable(file: String) throws {
      let text = try String(
        contentsOf: TestEnvironment.envoyConfigDirectory.appendingPathComponent(file), encoding: .utf8)
      let rendered = try EnvoyProcess.render(text, ports: [10000: 1, 9191: 2, 8080: 3, 9902: 4])
      for port in [1, 2, 3, 4] {
        #expect(rendered.contains("port_value: \(port)\n") || rendered.contains("port_value: \(port) "))
      }
    }
  }
}
