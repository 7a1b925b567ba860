//===----------------------------------------------------------------------===//
// Augmenter — grpc.health.v1.Health/Check, following readiness.
//===----------------------------------------------------------------------===//

import AugmenterCore
import EnvoyAPI
public import GRPC
public import HTTP2
public import NIOCore
import SwiftProtobuf

/// gRPC health checking (grpc/grpc doc/health-checking.md) for Kubernetes grpc probes and
/// Envoy's active gRPC health checks.
public struct HealthService: Sendable {
  /// The unary Check path.
  public static let checkPath = "/grpc.health.v1.Health/Check"
  /// The server-streaming Watch path.
  public static let watchPath = "/grpc.health.v1.Health/Watch"
  /// Service names we answer for: the whole server ("") and the ext_authz service.
  public static let knownServices: Set<String> = ["", "envoy.service.auth.v3.Authorization"]

  private let isServing: @Sendable () -> Bool
  private let watchInterval: TimeAmount

  /// Creates the service; `isServing` is read on every call (readiness, false while draining).
  /// - Parameter watchInterval: how often a Watch re-reads readiness (it also changes by time alone,
  ///   when headers expire, so it is polled rather than pushed).
  public init(watchInterval: TimeAmount = .milliseconds(250), isServing: @escaping @Sendable () -> Bool) {
    self.isServing = isServing
    self.watchInterval = watchInterval
  }

  /// Handles one Watch call: the current status at once, then every change, until the client
  /// cancels or the server shuts down (NOT_SERVING, then OK). Unknown names get SERVICE_UNKNOWN
  /// and the stream stays open, as the health-checking protocol asks.
  public func watch(_ message: ByteBuffer, writer: GRPCServerStreamWriter) {
    let request: Grpc_Health_V1_HealthCheckRequest
    do throws(GRPCStatus) {
      request = try Grpc_Health_V1_HealthCheckRequest(grpcRequest: message)
    } catch {
      writer.finish(error)
      return
    }
    let known = Self.knownServices.contains(request.service)
    let last = NIOLoopBoundBox<ServingStatus?>(nil, eventLoop: writer.eventLoop)
    let send = { @Sendable (status: ServingStatus) in
      guard last.value != status else { return }
      last.value = status
      writer.send(Self.encode(status))
    }
    let current = { @Sendable in known ? self.servingStatus() : .serviceUnknown }
    send(current())
    let poll = writer.eventLoop.scheduleRepeatedTask(initialDelay: self.watchInterval, delay: self.watchInterval) { _ in
      send(current())
    }
    writer.onClose { poll.cancel() }
    writer.onGracefulShutdown {
      if known { send(.notServing) }
      writer.finish(.ok)
    }
  }

  /// Handles one serialized HealthCheckRequest.
  public func check(_ message: ByteBuffer) throws(GRPCStatus) -> [UInt8] {
    let request = try Grpc_Health_V1_HealthCheckRequest(grpcRequest: message)
    guard Self.knownServices.contains(request.service) else {
      throw GRPCStatus(.notFound, "unknown service \"\(request.service)\"")
    }
    return Self.encode(self.servingStatus())
  }

  typealias ServingStatus = Grpc_Health_V1_HealthCheckResponse.ServingStatus

  /// SERVING while ready, NOT_SERVING otherwise (both Check and Watch).
  private func servingStatus() -> ServingStatus {
    self.isServing() ? .serving : .notServing
  }

  /// A HealthCheckResponse carrying `status`. Encoding a one-enum message cannot fail.
  private static func encode(_ status: ServingStatus) -> [UInt8] {
    var response = Grpc_Health_V1_HealthCheckResponse()
    response.status = status
    return (try? response.serializedBytes()) ?? []
  }
}
