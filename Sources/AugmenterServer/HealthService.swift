//===----------------------------------------------------------------------===//
// Augmenter — grpc.health.v1.Health/Check, following readiness.
//===----------------------------------------------------------------------===//

public import AugmenterCore
import EnvoyAPI
public import HTTP2
public import NIOCore
import SwiftProtobuf

/// gRPC health checking (grpc/grpc doc/health-checking.md) for Kubernetes grpc probes and
/// Envoy's active gRPC health checks.
public struct HealthService: Sendable {
  /// The unary Check path.
  public static let checkPath = "/grpc.health.v1.Health/Check"
  /// Service names we answer for: the whole server ("") and the ext_authz service.
  public static let knownServices: Set<String> = ["", "envoy.service.auth.v3.Authorization"]

  private let isServing: @Sendable () -> Bool

  /// Creates the service; `isServing` is read on every call (readiness, false while draining).
  public init(isServing: @escaping @Sendable () -> Bool) {
    self.isServing = isServing
  }

  /// Handles one serialized HealthCheckRequest.
  public func check(_ message: ByteBuffer) throws(GRPCStatus) -> [UInt8] {
    let request: Grpc_Health_V1_HealthCheckRequest
    do {
      request = try Grpc_Health_V1_HealthCheckRequest(serializedBytes: Array(message.readableBytesView))
    } catch {
      throw GRPCStatus(.invalidArgument, "request is not a valid grpc.health.v1.HealthCheckRequest: \(error)")
    }
    guard Self.knownServices.contains(request.service) else {
      throw GRPCStatus(.notFound, "unknown service \"\(request.service)\"")
    }
    var response = Grpc_Health_V1_HealthCheckResponse()
    response.status = self.isServing() ? .serving : .notServing
    do {
      return try response.serializedBytes()
    } catch {
      throw GRPCStatus(.internal, "could not encode HealthCheckResponse: \(error)")
    }
  }
}
