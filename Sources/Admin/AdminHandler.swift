//===----------------------------------------------------------------------===//
// Augmenter — the admin port: /healthz, /readyz, /status, /metrics (HTTP/1.1, NIOHTTP1's parser).
//===----------------------------------------------------------------------===//

public import AugmenterCore
public import AugmenterMetrics
import Foundation
import HTTP1
package import NIOCore
package import NIOHTTP1

/// What `POST /reload` and `/status` need of configuration reloading.
public struct AdminReload: Sendable {
  /// Reloads now (serialised with every other reload) and answers with the result.
  public var reload: @Sendable () async -> ConfigReloadReport
  /// The last reload's result; `nil` before the first.
  public var last: @Sendable () -> ConfigReloadReport?

  /// Creates the reload hooks.
  public init(
    reload: @escaping @Sendable () async -> ConfigReloadReport, last: @escaping @Sendable () -> ConfigReloadReport?
  ) {
    self.reload = reload
    self.last = last
  }
}

/// What the admin endpoints report; read fresh on every request.
public struct AdminState: Sendable {
  /// The providers in force (a reload replaces them), whose state `/status` and `/readyz` show.
  public var providers: @Sendable () -> ProviderRegistry
  /// The providers whose state `/status` and `/readyz` show now.
  public var registry: ProviderRegistry { self.providers() }
  /// The clock the snapshots are stamped with.
  public var clock: any AugmenterClock
  /// True once shutdown began: `/readyz` turns 503 so load balancers stop sending.
  public var isDraining: @Sendable () -> Bool
  /// What `/metrics` exposes; `nil`: `/metrics` is not served (404).
  public var metrics: MetricsRegistry?
  /// Configuration reloading; `nil`: `POST /reload` is not served (404) and `/status` has no
  /// `config` section.
  public var reload: AdminReload?

  /// Creates the admin state over a fixed set of providers.
  public init(
    registry: ProviderRegistry, clock: any AugmenterClock, isDraining: @escaping @Sendable () -> Bool,
    metrics: MetricsRegistry? = nil, reload: AdminReload? = nil
  ) {
    self.init(providers: { registry }, clock: clock, isDraining: isDraining, metrics: metrics, reload: reload)
  }

  /// Creates the admin state over the providers in force, read on every request.
  public init(
    providers: @escaping @Sendable () -> ProviderRegistry, clock: any AugmenterClock,
    isDraining: @escaping @Sendable () -> Bool, metrics: MetricsRegistry? = nil, reload: AdminReload? = nil
  ) {
    self.providers = providers
    self.clock = clock
    self.isDraining = isDraining
    self.metrics = metrics
    self.reload = reload
  }

  /// The path of the reload endpoint.
  static let reloadPath = "/reload"

  /// Whether a request is a reload (answered asynchronously: see `reloadResponse`).
  func isReload(method: HTTPMethod, uri: String) -> Bool {
    self.reload != nil && method == .POST && Self.path(of: uri) == Self.reloadPath
  }

  /// Reloads and answers: 200 with the report when the new configuration is in force, 422 with
  /// the report (every problem and its key path) when it was refused.
  func reloadResponse() async -> (HTTPResponseStatus, String, String) {
    guard let reload = self.reload else { return (.notFound, "text/plain; charset=utf-8", "not found\n") }
    let report = await reload.reload()
    return (report.ok ? .ok : .unprocessableEntity, "application/json", Self.json(report))
  }

  /// The path of `uri`, without its query.
  private static func path(of uri: String) -> String {
    uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? uri
  }

  /// `value` as pretty-printed JSON with sorted keys and ISO 8601 dates, and a final newline.
  private static func json(_ value: some Encodable) -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    encoder.dateEncodingStrategy = .iso8601
    return ((try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "{}") + "\n"
  }

  /// Ready: not draining and every required provider has usable headers.
  public func isReady() -> Bool {
    !self.isDraining() && self.registry.isReady(at: self.clock.now())
  }

  /// The response to one admin request: status, content type, body.
  func respond(method: HTTPMethod, uri: String) -> (HTTPResponseStatus, String, String) {
    let path = Self.path(of: uri)
    var paths = self.metrics == nil ? ["/healthz", "/readyz", "/status"] : ["/healthz", "/readyz", "/status", "/metrics"]
    if self.reload != nil { paths.append(Self.reloadPath) }
    guard paths.contains(path) else {
      return (.notFound, "text/plain; charset=utf-8", "not found: \(path) (try \(paths.joined(separator: ", ")))\n")
    }
    if path == Self.reloadPath {
      // POST is answered by `reloadResponse` (it awaits the reload); any other method is refused.
      return (.methodNotAllowed, "text/plain; charset=utf-8", "\(path) supports POST\n")
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
        providers: self.registry.states.map { $0.status(at: now) },
        config: self.reload.map { ConfigStatus(lastReload: $0.last()) }
      )
      return (.ok, "application/json", Self.json(report))
    }
  }

  private struct StatusReport: Encodable {
    var version: String
    var ready: Bool
    var draining: Bool
    var providers: [ProviderStatus]
    /// Absent when reloading is not wired (tests of the other endpoints).
    var config: ConfigStatus?
  }

  /// `/status`'s `config`: the last reload (`null` before the first).
  private struct ConfigStatus: Encodable {
    var lastReload: ConfigReloadReport?

    enum CodingKeys: String, CodingKey { case lastReload = "last_reload" }

    func encode(to encoder: any Encoder) throws {
      var container = encoder.container(keyedBy: CodingKeys.self)
      try container.encode(lastReload, forKey: .lastReload)
    }
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
      if self.state.isReload(method: head.method, uri: head.uri) {
        // The reload reads the file and waits for new providers' first headers: off the event
        // loop (which also serves checks), answered back on it when done. The HTTP/1.1 server
        // pipeline holds later pipelined requests until this answer is written.
        let state = self.state
        let answer = context.eventLoop.makePromise(of: (HTTPResponseStatus, String, String).self)
        answer.completeWithTask { await state.reloadResponse() }
        answer.futureResult.assumeIsolated().whenSuccess { answer in
          // The client may have gone meanwhile: nothing to answer then.
          guard context.channel.isActive else { return }
          Self.write(answer, for: head, context: context)
        }
        return
      }
      Self.write(self.state.respond(method: head.method, uri: head.uri), for: head, context: context)
    }
  }

  private static func write(
    _ answer: (HTTPResponseStatus, String, String), for head: HTTPRequestHead, context: ChannelHandlerContext
  ) {
    let (status, contentType, body) = answer
    var headers = HTTPHeaders()
    headers.add(name: "content-type", value: contentType)
    headers.add(name: "cache-control", value: "no-store")
    HTTP1Response.write(status: status, headers: headers, body: body, for: head, keepAlive: head.isKeepAlive, context: context)
  }
}

@available(*, unavailable)
extension AdminHandler: Sendable {}
