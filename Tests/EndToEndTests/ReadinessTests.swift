//===----------------------------------------------------------------------===//
// End-to-end tests: Readiness.
//===----------------------------------------------------------------------===//

import EnvoyAPI
import Foundation
import Testing

extension EndToEnd {
  @Suite("Readiness")
  struct Readiness {
    @Test("/readyz and gRPC health go from not ready to ready after the first good fetch")
    func readinessFollowsFirstGoodFetch() async throws {
      try await withTestScope { scope in
        let stack = try await Stack.start(scope: scope, answer: .raw(status: 503, "starting", contentType: "text/plain"))
        try await stack.provider.waitForRequests(atLeast: 1)

        #expect(try await stack.augmenter.readyz() == 503)
        let grpc = try await GRPCTestClient.connect(port: stack.augmenter.checkPort, scope: scope)
        let notReady = try await grpc.unary(path: GRPCPath.health, body: try Messages.healthBody(service: ""))
        #expect(notReady.httpStatus == 200)
        #expect(notReady.grpcStatus == 0, "\(notReady)")
        #expect(try notReady.message(as: Grpc_Health_V1_HealthCheckResponse.self).status == .notServing)
        let (denied, received) = try await stack.send()
        #expect(denied.status == 503, "before any good fetch a deny config must answer 503: \(denied)")
        #expect(denied.header("content-type")?.hasPrefix("application/problem+json") == true, "\(denied)")
        #expect(received == nil)

        stack.provider.setAnswer(.headers(["x-a": "ready"]))
        try await stack.augmenter.waitUntilReady(timeout: .seconds(15))
        let ready = try await grpc.unary(path: GRPCPath.health, body: try Messages.healthBody(service: ""))
        #expect(ready.grpcStatus == 0, "\(ready)")
        #expect(try ready.message(as: Grpc_Health_V1_HealthCheckResponse.self).status == .serving)

        let unknown = try await grpc.unary(path: GRPCPath.health, body: try Messages.healthBody(service: "no.such.Service"))
        #expect(unknown.grpcStatus == 5, "unknown service name must be NOT_FOUND: \(unknown)")

        let (response, upstream) = try await stack.send()
        #expect(response.status == 200, "\(response)")
        #expect(upstream?.values("x-a") == ["ready"])
      }
    }
  }
}
