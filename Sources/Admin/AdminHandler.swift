//===----------------------------------------------------------------------===//
// Augmenter — the admin port: /healthz, /readyz, /status, /metrics (HTTP/1.1, NIOHTTP1's parser).
//===----------------------------------------------------------------------===//

public import AugmenterCore
public import AugmenterMetrics
import Foundation
import HTTP1
package import NIOCore
package import NIOHTTP1

/// What the admin endpoints report; read fresh on every request.
public struct AdminState: Sendable {
  /// The providers whose state `/status` and `/readyz` show.
  public var registry: ProviderRegistry
  /// The clock the snapshots are stamped with.
  public var clock: any AugmenterClock
  /// True once shutdown began: `/readyz` turns 503 so load balancers stop sending.
  public var isDraining: @Sendable () -> Bool
  /// What `/metrics` exposes; `nil`: `/metrics` is not served (404).
  public var metrics: MetricsRegistry?

  /// Creates the admin state.
  public init(
    registry: ProviderRegistry, clock: any AugmenterClock, isDraining: @escaping @Sendable () -> Bool,
    metrics: MetricsRegistry? = nil
  ) {
    self.registry = registry
    self.clock = clock
    self.isDraining = isDraining
    self.metrics = metrics
  }

  /// Ready: not draining and every required provider has usable headers.
  public func isReady() -> Bool {
    !self.isDraining() && self.registry.isReady(at: self.clock.now())
  }

  /// The response to one admin request: status, content type, body.
  func respond(method: HTTPMethod, uri: String) -> (HTTPResponseStatus, String, String) {
    let path = uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? uri
    let paths = self.metrics == nil ? ["/healthz", "/readyz", "/status"] : ["/healthz", "/readyz", "/status", "/metrics"]
    guard paths.contains(path) else {
      return (.notFound, "text/plain; charset=utf-8", "not found: \(path) (try \(paths.joined(separator: ", ")))\n")
    }
    guard method == .GET || method == .HEAD else {
      return (.methodNotAllowed, "text/plain; charset=utf-8", "\(path) supports GET\n")
    }
    let now = self.clock.now()
    switch path {
    case "/healthz":
      return (.ok, "text/plain; charset=utf-8", "ok\n")
    case "/metrics":
      return (.ok, MetricsRegistry.contentType, self.metrics?.exposition() ?? "")
    case "/readyz":
      if self.isDraining() {
        return (.serviceUnavailable, "text/plain; charset=utf-8", "not ready: shutting down\n")
      }
      let unusable = self.registry.unavailableRequiredProviders(at: now)
      if unusable.isEmpty {
        return (.ok, "text/plain; charset=utf-8", "ready\n")
      }
      let names = unusable.joined(separator: ", ")
      return (.serviceUnavailable, "text/plain; charset=utf-8", "not ready: no usable headers from \(names)\n")
    default:
      let report = StatusReport(
        version: AugmenterVersion.current,
        ready: self.isReady(),
        draining: self.isDraining(),
        providers: self.registry.states.map { $0.status(at: now) }
      )
      let encoder = JSONEncoder()
      encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
      encoder.dateEncodingStrategy = .iso8601
      let body = (try? encoder.encode(report)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
      return (.ok, "application/json", body + "\n")
    }
  }

  private struct StatusReport: Encodable {
    var version: String
    var ready: Bool
    var draining: Bool
    var providers: [ProviderStatus]
  }
}

/// Serves the admin endpoints on one HTTP/1.1 connection (keep-alive and pipelining are handled
/// by NIOHTTP1's server pipeline in front of it).
package final class AdminHandler: ChannelInboundHandler {
  package typealias InboundIn = HTTPServerRequestPart
  package typealias OutboundOut = HTTPServerResponsePart

  private let state: AdminState
  private var head: HTTPRequestHead?

  package init(state: AdminState) {
    self.state = state
  }

  package func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    switch Self.unwrapInboundIn(data) {
    case .head(let head):
      self.head = head
    case .body:
      break  // admin requests carry no body we need
    case .end:
      guard let head = self.head else { return }
      self.head = nil
      let (status, contentType, body) = self.state.respond(method: head.method, uri: head.uri)
      var headers = HTTPHeaders()
      headers.add(name: "content-type", value: contentType)
      headers.add(name: "cache-control", value: "no-store")
      HTTP1Response.write(status: status, headers: headers, body: body, for: head, keepAlive: head.isKeepAlive, context: context)
    }
  }
}

@available(*, unavailable)
extension AdminHandler: Sendable {}
