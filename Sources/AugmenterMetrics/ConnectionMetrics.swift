//===----------------------------------------------------------------------===//
// Augmenter — open connections by listener and protocol.
//===----------------------------------------------------------------------===//

import Prometheus

/// The open-connection gauges of both listeners, made at startup for every listener and
/// protocol; a connection moves its gauge up once its protocol is known and down when it closes
/// (atomic updates, once per connection, never per request).
public final class ConnectionMetrics: Sendable {
  /// A listener.
  public enum Listener: String, Sendable, CaseIterable {
    /// The check port (`listen`).
    case check
    /// The admin port (`admin_listen`).
    case admin
  }

  /// A connection's protocol, as detected from its first bytes.
  public enum ConnectionProtocol: String, Sendable, CaseIterable {
    /// HTTP/1.1.
    case http1
    /// HTTP/2 (h2c, or h2 over TLS).
    case h2
  }

  private let gauges: [Listener: [ConnectionProtocol: Gauge]]

  /// Makes the gauges in `registry`.
  public init(registry: MetricsRegistry) {
    var gauges: [Listener: [ConnectionProtocol: Gauge]] = [:]
    for listener in Listener.allCases {
      for connectionProtocol in ConnectionProtocol.allCases {
        gauges[listener, default: [:]][connectionProtocol] = registry.gauge(
          MetricCatalog.connectionsOpen, [listener.rawValue, connectionProtocol.rawValue])
      }
    }
    self.gauges = gauges
  }

  /// A connection of `connectionProtocol` on `listener` is open; returns what to call when it
  /// closes.
  public func opened(_ listener: Listener, _ connectionProtocol: ConnectionProtocol) -> @Sendable () -> Void {
    guard let gauge = self.gauges[listener]?[connectionProtocol] else { return {} }
    gauge.increment()
    return { gauge.decrement() }
  }
}
