//===----------------------------------------------------------------------===//
// Augmenter — one listening port as a Service: bind, serve, and drain on graceful shutdown.
//===----------------------------------------------------------------------===//

public import Logging
public import NIOCore
import NIOPosix
public import ServiceLifecycle
import Synchronization

/// A listening port (the check port, the admin port) run as a `Service`.
///
/// `run()` binds, serves until graceful shutdown, then drains: it stops accepting after
/// `drainDelay`, asks every open connection to finish (`ChannelShouldQuiesceEvent`: GOAWAY on
/// HTTP/2, `connection: close` after the request in progress on HTTP/1.1), awaits their close
/// futures for at most `gracePeriod`, closes what is left, and returns. Cancellation (a second
/// signal) cuts every wait short.
public final class ListenerService: Service, Sendable {
  /// Where the listener stands. Moves forward only.
  public enum State: Sendable, Equatable {
    /// Made, not running.
    case idle
    /// Binding its port.
    case starting
    /// Accepting and answering.
    case serving
    /// Graceful shutdown began: answering still, connections being asked to finish.
    case draining
    /// Its port and every connection are closed.
    case stopped
  }

  /// What a listener is, apart from what it serves.
  public struct Configuration: Sendable {
    /// `check` or `admin`: the name in logs.
    public var name: String
    /// The address to bind.
    public var host: String
    /// The port to bind (0: any free one).
    public var port: Int
    /// Connections held at most (`max_connections`); past it, accepting pauses.
    public var maxConnections: Int
    /// After graceful shutdown begins, how long the port keeps accepting and answering before
    /// connections are asked to finish (`drain_delay` on the check port, zero on the admin port).
    public var drainDelay: Duration
    /// How long connections may take to finish once asked (`shutdown_grace_period`).
    public var gracePeriod: Duration

    /// Creates a configuration.
    public init(name: String, host: String, port: Int, maxConnections: Int, drainDelay: Duration, gracePeriod: Duration) {
      self.name = name
      self.host = host
      self.port = port
      self.maxConnections = maxConnections
      self.drainDelay = drainDelay
      self.gracePeriod = gracePeriod
    }
  }

  /// Outbound bytes a connection may hold before it stops being writable (high) and becomes
  /// writable again (low): the bound backpressure keeps per connection. NIO's defaults, stated
  /// because the flood bounds (RELIABILITY.md) depend on them.
  static let writeBufferWaterMark = ChannelOptions.Types.WriteBufferWaterMark(low: 32 << 10, high: 64 << 10)

  private let configuration: Configuration
  private let group: any EventLoopGroup
  private let logger: Logger
  private let initializeConnection: @Sendable (any Channel) throws -> Void
  private let willDrain: @Sendable (_ openConnections: Int) -> Void
  private let connections = ConnectionTracker()
  private let state = Mutex<(state: State, address: SocketAddress?)>((.idle, nil))
  /// Completed once: with the bound address when serving begins, with `nil` if binding failed.
  private let serving: EventLoopPromise<SocketAddress?>

  /// Creates a listener.
  /// - Parameters:
  ///   - initializeConnection: builds a new connection's pipeline (on its event loop).
  ///   - willDrain: runs once when graceful shutdown begins, before the drain delay, with the
  ///     connections open then (the check port turns readiness and gRPC health to NOT_SERVING
  ///     here, and says so).
  public init(
    _ configuration: Configuration,
    group: any EventLoopGroup,
    logger: Logger,
    willDrain: @escaping @Sendable (_ openConnections: Int) -> Void = { _ in },
    initializeConnection: @escaping @Sendable (any Channel) throws -> Void
  ) {
    self.configuration = configuration
    self.group = group
    self.logger = logger
    self.willDrain = willDrain
    self.initializeConnection = initializeConnection
    self.serving = group.next().makePromise(of: SocketAddress?.self)
  }

  /// Where the listener stands now.
  public var currentState: State { self.state.withLock { $0.state } }

  /// The bound address once serving (the port chosen for port 0).
  public var boundAddress: SocketAddress? { self.state.withLock { $0.address } }

  /// Waits until the port is bound: its address, or `nil` if binding failed.
  public func waitUntilServing() async -> SocketAddress? {
    (try? await self.serving.futureResult.get()) ?? nil
  }

  /// Connections open right now.
  public var openConnections: Int { self.connections.count }

  /// Binds, serves until graceful shutdown, drains, and returns once every connection closed.
  public func run() async throws {
    self.transition(to: .starting)
    let serverChannel: any Channel
    do {
      serverChannel = try await self.bind()
    } catch {
      self.transition(to: .stopped)
      self.serving.succeed(nil)
      throw error
    }
    self.state.withLock { $0 = (.serving, serverChannel.localAddress) }
    self.serving.succeed(serverChannel.localAddress)

    // Until SIGTERM/SIGINT (the service group's graceful shutdown) or cancellation.
    try? await gracefulShutdown()
    self.transition(to: .draining)
    self.willDrain(self.connections.count)
    await self.drain(serverChannel)
    self.transition(to: .stopped)
  }

  private func bind() async throws -> any Channel {
    let connections = self.connections
    let initialize = self.initializeConnection
    return try await ServerBootstrap(group: self.group)
      .limitingConnections(to: self.configuration.maxConnections, listener: self.configuration.name, logger: self.logger)
      .serverChannelOption(.backlog, value: 1024)
      .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
      .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
      // Past 64 KiB of unsent output a connection stops being read until it is under 32 KiB.
      .childChannelOption(.writeBufferWaterMark, value: Self.writeBufferWaterMark)
      .childChannelInitializer { channel in
        connections.add(channel)
        return channel.eventLoop.makeCompletedFuture { try initialize(channel) }
      }
      .bind(host: self.configuration.host, port: self.configuration.port)
      .get()
  }

  /// Drain, phase 1: keep serving for `drainDelay` (health checks and endpoint removal move
  /// traffic away meanwhile); phase 2: stop accepting, ask every connection to finish, wait.
  private func drain(_ serverChannel: any Channel) async {
    let name = self.configuration.name
    let drainDelay = self.configuration.drainDelay
    if drainDelay > .zero {
      // A second signal or cancellation ends the wait early (the sleep throws).
      try? await Task.sleep(for: drainDelay)
    }
    self.logger.info(
      "shutting down: draining connections", metadata: ["listener": "\(name)", "open": "\(self.connections.count)"])
    try? await serverChannel.close()
    let open = self.connections.open
    for channel in open {
      channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
    }
    if await self.connections.allClosed(open, within: self.configuration.gracePeriod, on: self.group.next()) {
      return
    }
    let remaining = self.connections.open
    self.logger.warning(
      "shutdown grace period over: closing connections", metadata: ["listener": "\(name)", "open": "\(remaining.count)"])
    for channel in remaining { channel.close(promise: nil) }
    _ = await self.connections.allClosed(remaining, within: .seconds(1), on: self.group.next())
  }

  private func transition(to next: State) {
    self.state.withLock { $0.state = next }
  }
}
