// Captures log lines so tests can assert on what is (and is never) logged.

import Logging
import Synchronization

/// A log handler that records every event, with the logger's metadata merged in.
struct CapturingLogHandler: LogHandler {
  /// One captured line.
  struct Line: Sendable {
    var level: Logger.Level
    var message: String
    var metadata: [String: String]

    /// Everything in the line as one string, for "never contains" checks.
    var rendered: String {
      "\(level) \(message) " + metadata.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
    }
  }

  /// Shared storage of the lines (handlers are values; copies share it).
  final class Store: Sendable {
    private let lines = Mutex<[Line]>([])
    var all: [Line] { lines.withLock { $0 } }
    func append(_ line: Line) { lines.withLock { $0.append(line) } }
  }

  let store: Store
  var metadata: Logger.Metadata = [:]
  var logLevel: Logger.Level = .trace

  init(store: Store) {
    self.store = store
  }

  subscript(metadataKey key: String) -> Logger.Metadata.Value? {
    get { metadata[key] }
    set { metadata[key] = newValue }
  }

  func log(event: LogEvent) {
    var merged = metadata
    merged.merge(event.metadata ?? [:]) { _, new in new }
    store.append(
      Line(
        level: event.level, message: "\(event.message)",
        metadata: merged.mapValues { "\($0)" }))
  }

  /// A logger writing into a new store, and the store.
  static func logger() -> (Logger, Store) {
    let store = Store()
    return (Logger(label: "test", factory: { _ in CapturingLogHandler(store: store) }), store)
  }
}
