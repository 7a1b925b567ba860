//===----------------------------------------------------------------------===//
// Augmenter — the service: refreshers, the check listener, the admin listener, graceful drain.
//===----------------------------------------------------------------------===//

import Admin
import AsyncHTTPClient
public import AugmenterCore
import ExtAuthz
import GRPC
import HTTP1
import HTTP2
public import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Providers
public import ServiceLifecycle
import Synchronization

/// Runs Augmenter until graceful shutdown (SIGTERM/SIGINT through a `ServiceGroup`).
///
/// Shutdown order: readiness and gRPC health turn NOT_SERVING while the check listener keeps
/// serving for `drain_delay`; then the check listener stops accepting, every connection gets
/// GOAWAY and finishes its open streams (bounded by `shutdown_grace_period`), then the admin
/// listener, the refreshers and the HTTP client stop.
public final class AugmenterService: Service {
  private let config: AugmenterConfig
  private let logger: Logger
  private let clock: any AugmenterClock
  private let draining = Atomic<Bool>(false)
  private let boundAddresses = Mutex<(check: SocketAddress?, admin: SocketAddress?)>((nil, nil))

  /// Outbound bytes a connection may hold before it stops being writable (high) and becomes
  /// writable again (low): the bound HTTP/2 backpressure keeps per connection.
  static let writeBufferWaterMark = ChannelOptions.Types.WriteBufferWaterMark(low: 32 << 10, high: 64 << 10)

  /// Creates the service from a validated configuration.
  public init(config: AugmenterConfig, logger: Logger, clock: any AugmenterClock = SystemClock()) {
    self.config = config
    self.logger = logger
    self.clock = clock
  }

  /// The check listener's bound port once running (useful with port 0).
  public var checkPort: Int? { self.boundAddresses.withLock { $0.check?.port } }
  /// The admin listener's bound port once running.
  public var adminPort: Int? { self.boundAddresses.withLock { $0.admin?.port } }

  public func run() async throws {
    let group = MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount)
    // A provider fetch whose connection cannot be established (refused, TLS certificate not
    // verified) fails at once with that error, instead of AsyncHTTPClient retrying until the
    // fetch's timeout and reporting only "timed out": /status and the log then name the cause,
    // and the refresher retries on its own schedule.
    var clientConfiguration = HTTPClient.Configuration()
    clientConfiguration.connectionPool.retryConnectionEstablishment = false
    // Redirects are decided per hop by `HTTPProviderFetcher` (same origin only, when configured):
    // AsyncHTTPClient's own following would go to any origin the provider names.
    clientConfiguration.redirectConfiguration = .disallow
    let httpClient = HTTPClient(eventLoopGroup: group, configuration: clientConfiguration)
    do {
      try await self.serve(group: group, httpClient: httpClient)
    } catch {
      try? await httpClient.shutdown()
      try? await group.shutdownGracefully()
      throw error
    }
    try? await httpClient.shutdown()
    try? await group.shutdownGracefully()
  }

  private func serve(group: MultiThreadedEventLoopGroup, httpClient: HTTPClient) async throws {
    let registry = ProviderRegistry(config: self.config)
    let decider = Decider(config: self.config, registry: registry)
    let clock = self.clock
    let draining = { @Sendable [weak self] in self?.draining.load(ordering: .relaxed) ?? true }
    let adminState = AdminState(registry: registry, clock: clock, isDraining: draining)
    let check = ExtAuthzCheckService(decider: decider, clock: clock)
    let health = HealthService { adminState.isReady() }
    let httpModeCheck = HTTPModeCheckService(decider: decider, clock: clock)
    let router = GRPCRouter(
      methods: [
        HealthService.checkPath: .unary { message, _ throws(GRPCStatus) in try health.check(message) },
        HealthService.watchPath: .serverStreaming { message, writer in health.watch(message, writer: writer) },
        ExtAuthzCheckService.path: .framedUnary { message, call throws(GRPCStatus) in
          try check.framedCheck(message, peerIdentity: call.peerIdentity)
        },
      ],
      maxMessageBytes: self.config.grpcMaxMessageBytes,
      fallback: HTTPModeCheckResponder(service: httpModeCheck)
    )
    let settings = HTTP2Settings(
      maxConcurrentStreams: self.config.http2MaxConcurrentStreams,
      initialWindowSize: self.config.http2InitialWindowSize,
      maxRequestBodyBytes: self.config.http2RequestBodyLimit,
      maxBufferedBytesPerConnection: self.config.http2MaxBufferedRequestBytes,
      maxOutboundControlFrames: self.config.http2MaxOutboundControlFrames,
      idleTimeout: TimeAmount(self.config.http2IdleTimeout),
      internedStrings: HTTP2InternedStrings(router.internedStrings + ExtAuthzCheckService.internedHeaderNames)
    )
    let checkTLS = try TLSSetup.listener(self.config.tls, key: "tls")
    let adminTLS = try TLSSetup.listener(self.config.adminTLS, key: "admin_tls")
    let pipelines = ConnectionPipelines(
      http2Settings: settings,
      checkResponder: router,
      httpModeCheck: httpModeCheck,
      adminState: adminState,
      maxHTTP1BodyBytes: self.config.http1RequestBodyLimit,
      idleTimeout: TimeAmount(self.config.idleTimeout),
      http1: HTTP1ConnectionSettings(self.config),
      checkTLS: checkTLS,
      adminTLS: adminTLS,
      logger: self.logger
    )
    let fetcher = HTTPProviderFetcher(client: httpClient)
    let connections = ConnectionTracker()
    let logger = self.logger

    try await withThrowingDiscardingTaskGroup { tasks in
      for state in registry.states {
        let refresher = ProviderRefresher(state: state, fetcher: fetcher, clock: clock, logger: logger)
        tasks.addTask { await refresher.run() }
      }
      for tls in [checkTLS, adminTLS].compactMap({ $0 }) {
        tasks.addTask { await tls.watch(logger: logger) }
      }

      let checkChannel = try await ServerBootstrap(group: group)
        .limitingConnections(to: self.config.maxConnections, listener: "check", logger: logger)
        .serverChannelOption(.backlog, value: 1024)
        .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
        .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
        // HTTP/2 backpressure: past 64 KiB of unsent output a connection stops being read and
        // nghttp2's output stays queued (bounded by its own limits) until it is under 32 KiB
        // again. NIO's defaults, stated because the flood bounds depend on them.
        .childChannelOption(.writeBufferWaterMark, value: Self.writeBufferWaterMark)
        .childChannelInitializer { channel in
          connections.add(channel)
          return channel.eventLoop.makeCompletedFuture { try pipelines.configureCheck(channel) }
        }
        .bind(host: self.config.listen.host, port: self.config.listen.port)
        .get()

      let adminChannel: any Channel
      do {
        adminChannel = try await ServerBootstrap(group: group)
          .limitingConnections(to: self.config.maxConnections, listener: "admin", logger: logger)
          .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
          .childChannelOption(.writeBufferWaterMark, value: Self.writeBufferWaterMark)
          .childChannelInitializer { channel in
            channel.eventLoop.makeCompletedFuture { try pipelines.configureAdmin(channel) }
          }
          .bind(host: self.config.adminListen.host, port: self.config.adminListen.port)
          .get()
      } catch {
        try? await checkChannel.close()
        throw error
      }

      self.boundAddresses.withLock { $0 = (checkChannel.localAddress, adminChannel.localAddress) }
      logger.info(
        "augmenter listening",
        metadata: [
          "check": "\(checkChannel.localAddress.map { "\($0)" } ?? "?")",
          "admin": "\(adminChannel.localAddress.map { "\($0)" } ?? "?")",
          "providers": "\(registry.states.map(\.config.name).joined(separator: ","))",
          "tls": "\(checkTLS?.certificateDescription ?? "off")",
          "admin_tls": "\(adminTLS?.certificateDescription ?? "off")",
          "version": "\(AugmenterVersion.current)",
        ]
      )

      // Until SIGTERM/SIGINT (or cancellation).
      try? await gracefulShutdown()

      // Drain, phase 1: readiness and gRPC health say NOT_SERVING from now on, but the listener
      // keeps accepting and answering for `drain_delay`. Envoy's active health check and the
      // endpoint removal need that long to move traffic to the other endpoints; closing at once
      // would fail every check Envoy routes here meanwhile.
      self.draining.store(true, ordering: .relaxed)
      let drainDelay = self.config.drainDelay
      if drainDelay > .zero {
        logger.info(
          "shutting down: reporting NOT_SERVING, still serving during drain_delay",
          metadata: ["drain_delay": "\(drainDelay)", "open": "\(connections.count)"]
        )
        // A second signal or cancellation ends the wait early (the sleep throws).
        try? await Task.sleep(for: drainDelay)
      }
      // Phase 2: stop accepting, GOAWAY on every connection, in-flight work finishes.
      logger.info("shutting down: draining connections", metadata: ["open": "\(connections.count)"])
      try? await checkChannel.close()
      for channel in connections.open {
        channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
      }
      let deadline = ContinuousClock.now + self.config.shutdownGracePeriod
      while connections.count > 0, ContinuousClock.now < deadline, !Task.isCancelled {
        try? await Task.sleep(for: .milliseconds(20))
      }
      let remaining = connections.open
      if !remaining.isEmpty {
        logger.warning(
          "shutdown grace period over: closing connections",
          metadata: ["open": "\(remaining.count)"]
        )
        for channel in remaining { channel.close(promise: nil) }
      }
      try? await adminChannel.close()
      tasks.cancelAll()
      logger.info("shutdown complete")
    }
  }
}
