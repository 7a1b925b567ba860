//===----------------------------------------------------------------------===//
// End-to-end harness: provider, echo upstream, Augmenter and Envoy wired on free ports.
//===----------------------------------------------------------------------===//

import Foundation
import TestSupport

/// Provider + echo upstream + Augmenter + Envoy, wired together on free ports.
struct Stack: Sendable {
  let provider: TestProvider
  let upstream: EchoUpstream
  let augmenter: AugmenterProcess
  let envoy: EnvoyProcess

  /// Starts everything, Envoy with `envoy/<envoyConfig>`; `configure` adjusts the Augmenter config
  /// (its one provider points at the test provider, authority `sidecar.test`, ttl 2s, timeout
  /// 500ms, max_stale 1s by default).
  static func start(
    scope: TestScope,
    answer: ProviderAnswer,
    envoyConfig: String = "ext-authz-grpc.yaml",
    configure: (inout AugmenterConfig) -> Void = { _ in }
  ) async throws -> Stack {
    let provider = try await TestProvider.start(scope: scope, answer: answer)
    let upstream = try await EchoUpstream.start(scope: scope)
    var config = AugmenterConfig(providers: [ProviderConfig(url: provider.url)])
    configure(&config)
    let augmenter = try await AugmenterProcess.start(scope: scope, config: config)
    let envoy = try await EnvoyProcess.start(
      scope: scope, configFile: envoyConfig, augmenterPort: augmenter.checkPort, upstreamPort: upstream.port)
    return Stack(provider: provider, upstream: upstream, augmenter: augmenter, envoy: envoy)
  }

  /// Sends `GET /<unique path>` through Envoy with `headers`; returns the client's response and,
  /// when the request reached the upstream, what the upstream received.
  func send(_ headers: [HeaderField] = [], label: String = "probe") async throws -> (response: HTTPResponse, upstream: ReceivedRequest?) {
    let path = "/\(label)/\(UUID().uuidString)"
    let response = try await envoy.send(path: path, headers: headers)
    return (response, upstream.request(uri: path))
  }

  /// Sends requests through Envoy until the upstream receives one for which `accept` holds.
  @discardableResult
  func waitForUpstream(
    _ what: String,
    timeout: Duration = .seconds(15),
    headers: [HeaderField] = [],
    _ accept: @escaping (ReceivedRequest) -> Bool
  ) async throws -> ReceivedRequest {
    try await eventually("the upstream to receive \(what)", timeout: timeout) {
      let (_, received) = try await send(headers)
      guard let received, accept(received) else { return nil }
      return received
    }
  }
}

extension HeaderField {
  init(_ name: String, _ value: String) { self.init(name: name, value: value) }
}
