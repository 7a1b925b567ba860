//===----------------------------------------------------------------------===//
// Augmenter — the service: refreshers, the check listener, the admin listener, graceful drain.
//===----------------------------------------------------------------------===//

import Admin
import AsyncHTTPClient
public import AugmenterCore
import AugmenterMetrics
import ExtAuthz
import ExtProc
import Foundation
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

/// Runs Augmenter until graceful shutdown (SIGTERM/SIGINT through a `ServiceGroup`), reloading
/// its configuration when the file changes, on SIGHUP and on `POST /reload` (`ConfigReloader`).
///
/// Inside, a service group of its own runs, in this order: the admin listener, the background
/// work (provider refreshers, TLS file watchers), the check listener. A graceful shutdown stops
/// them in reverse order, each once the one after it has returned:
/// 1. the check listener: readiness and gRPC health turn NOT_SERVING at once, the port keeps
///    serving for `drain_delay`, then every connection gets GOAWAY (HTTP/2) or `connection:
///    close` (HTTP/1.1) and finishes its open requests, bounded by `shutdown_grace_period`;
/// 2. the refreshers and watchers;
/// 3. the admin listener, drained the same way (without a delay);
/// then the HTTP client and the event loops.
public final class AugmenterService: Service {
  private let config: AugmenterConfig
  private let logger: Logger
  private let clock: any AugmenterClock
  private let draining = Atomic<Bool>(false)
  private let configPath: String?
  private let environment: [String: String]

  /// Creates the service from a validated configuration.
  /// - Parameters:
  ///   - configPath: the file `config` was loaded from: reloads (its change, SIGHUP,
  ///     `POST /reload`) read it again; `nil` (built-in defaults) reloads the defaults.
  ///   - environment: the environment overrides reloads apply, as `config`'s load did.
  public init(
    config: AugmenterConfig, logger: Logger, clock: any AugmenterClock = SystemClock(), configPath: String? = nil,
    environment: [String: String] = [:]
  ) {
    self.config = config
    self.logger = logger
    self.clock = clock
    self.configPath = configPath
    self.environment = environment
  }

  /// Serves until graceful shutdown, then drains as described above.
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
    let logger = self.logger
    let draining = { @Sendable [weak self] in self?.draining.load(ordering: .relaxed) ?? true }
    // Every series is made here for the label sets this configuration allows (and again by a
    // reload, for those of the new one).
    let metrics = MetricsRegistry()
    metrics.configurationLoaded(at: Date())
    // What every check reads; a reload replaces it whole.
    let configuration = Published(CheckConfiguration(config: self.config, decider: decider, registry: metrics))
    let refreshers = ProviderRefreshers(
      fetcher: ProviderFetcherByKind(client: httpClient), clock: clock, logger: logger, metrics: metrics)
    let reloader = ConfigReloader(
      source: ConfigReloader.Source(path: self.configPath, environment: self.environment), startup: self.config,
      configuration: configuration, refreshers: refreshers, metrics: metrics,
      rateLimitMetrics: RateLimitMetrics(decider: decider, clock: clock, registry: metrics), clock: clock, logger: logger)
    let adminState = AdminState(
      providers: { configuration.value.decider.providers }, clock: clock, isDraining: draining, metrics: metrics,
      reload: AdminReload(reload: { await reloader.reload(.admin) }, last: { reloader.last }))
    let check = ExtAuthzCheckService(configuration: configuration, clock: clock)
    let health = HealthService { adminState.isReady() }
    let httpModeCheck = HTTPModeCheckService(configuration: configuration, clock: clock)
    let extProc = ExtProcService(configuration: configuration, clock: clock)
    let router = GRPCRouter(
      methods: [
        HealthService.checkPath: .unary { message, _ throws(GRPCStatus) in try health.check(message) },
        HealthService.watchPath: .serverStreaming { message, writer in health.watch(message, writer: writer) },
        ExtAuthzCheckService.path: .framedUnary { message, call throws(GRPCStatus) in
          try check.framedCheck(message, peerIdentity: call.peerIdentity)
        },
        ExtProcService.path: extProc.method,
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
      logger: self.logger,
      connectionMetrics: ConnectionMetrics(registry: metrics)
    )
    let background = BackgroundWork(
      refreshers: refreshers,
      providers: registry.states,
      tlsWatchers: [checkTLS, adminTLS].compactMap { $0 },
      reloader: reloader,
      configPath: self.configPath,
      logger: logger
    )
    let adminListener = ListenerService(
      ListenerService.Configuration(
        name: "admin", host: self.config.adminListen.host, port: self.config.adminListen.port,
        maxConnections: self.config.maxConnections, drainDelay: .zero, gracePeriod: self.config.shutdownGracePeriod),
      group: group, logger: logger
    ) { channel in try pipelines.configureAdmin(channel) }
    let drainDelay = self.config.drainDelay
    let checkListener = ListenerService(
      ListenerService.Configuration(
        name: "check", host: self.config.listen.host, port: self.config.listen.port,
        maxConnections: self.config.maxConnections, drainDelay: drainDelay,
        gracePeriod: self.config.shutdownGracePeriod),
      group: group, logger: logger,
      willDrain: { [weak self] open in
        self?.draining.store(true, ordering: .relaxed)
        if drainDelay > .zero {
          logger.info(
            "shutting down: reporting NOT_SERVING, still serving during drain_delay",
            metadata: ["drain_delay": "\(drainDelay)", "open": "\(open)"])
        }
      }
    ) { channel in try pipelines.configureCheck(channel) }

    let services = ServiceGroup(
      configuration: ServiceGroupConfiguration(
        services: [
          .init(service: adminListener),
          .init(service: background),
          .init(service: checkListener),
        ],
        logger: logger
      )
    )
    let announce = Task {
      // The listening line once both ports are bound (none if binding fails: that is logged).
      guard let checkAddress = await checkListener.waitUntilServing(), let adminAddress = await adminListener.waitUntilServing()
      else { return }
      logger.info(
        "augmenter listening",
        metadata: [
          "check": "\(checkAddress)",
          "admin": "\(adminAddress)",
          "providers": "\(registry.states.map(\.config.name).joined(separator: ","))",
          "tls": "\(checkTLS?.certificateDescription ?? "off")",
          "admin_tls": "\(adminTLS?.certificateDescription ?? "off")",
          "version": "\(AugmenterVersion.current)",
        ]
      )
    }
    defer { announce.cancel() }
    // The group follows this service's graceful shutdown (it is run as a child of it).
    try await services.run()
    logger.info("shutdown complete")
  }
}
