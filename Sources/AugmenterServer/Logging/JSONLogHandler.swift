//===----------------------------------------------------------------------===//
// Augmenter — log lines as JSON objects (`log_format: json`), one per line, for log pipelines.
//===----------------------------------------------------------------------===//

import AugmenterCore
public import Logging

#if canImport(Glibc)
  import Glibc
#endif

/// A swift-log handler that writes each event as one JSON object on one line:
/// `{"time", "level", "message", "label", "source", "metadata"}`.
///
/// `time` is UTC with milliseconds (RFC 3339); `metadata` holds the handler's metadata, the
/// provider's and the event's (the event's win), with nested lists and mappings kept as JSON.
/// Values are what the code logged: Augmenter never logs a header value, so neither does this.
public struct JSONLogHandler: LogHandler {
  /// Where lines go: standard error by default (as the text handler).
  public typealias Sink = @Sendable (String) -> Void

  /// Writes `line` and a newline to standard error in one `write` call, so concurrent events
  /// never interleave within a line.
  public static let standardError: Sink = { line in
    let text = line + "\n"
    _ = text.utf8.withContiguousStorageIfAvailable { bytes in write(2, bytes.baseAddress, bytes.count) }
  }

  /// The handler's metadata (merged under each event's).
  public var metadata: Logger.Metadata = [:]
  /// The least severe level written.
  public var logLevel: Logger.Level = .info
  /// Contextual metadata added to each event.
  public var metadataProvider: Logger.MetadataProvider?

  private let label: String
  private let sink: Sink

  /// A handler for the logger `label`, writing to `sink`.
  public init(label: String, sink: @escaping Sink = JSONLogHandler.standardError) {
    self.label = label
    self.sink = sink
  }

  /// One metadata value of the handler.
  public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
    get { self.metadata[key] }
    set { self.metadata[key] = newValue }
  }

  /// Writes the event as one line.
  public func log(event: LogEvent) {
    var merged = self.metadata
    if let provided = self.metadataProvider?.get() { merged.merge(provided) { _, new in new } }
    if let own = event.metadata { merged.merge(own) { _, new in new } }
    var line = #"{"time":"# + JSONText.quoted(Self.timestamp())
    line += #","level":"# + JSONText.quoted(event.level.rawValue)
    line += #","message":"# + JSONText.quoted(event.message.description)
    line += #","label":"# + JSONText.quoted(self.label)
    line += #","source":"# + JSONText.quoted(event.source)
    line += #","metadata":"# + Self.json(.dictionary(merged)) + "}"
    self.sink(line)
  }

  /// A metadata value as JSON: strings and convertibles as strings, lists and mappings nested
  /// (keys sorted, so equal metadata gives equal lines).
  static func json(_ value: Logger.Metadata.Value) -> String {
    switch value {
    case .string(let text): return JSONText.quoted(text)
    case .stringConvertible(let convertible): return JSONText.quoted(convertible.description)
    case .array(let values): return "[" + values.map(Self.json).joined(separator: ",") + "]"
    case .dictionary(let entries):
      return "{" + entries.keys.sorted().map { JSONText.quoted($0) + ":" + Self.json(entries[$0]!) }.joined(separator: ",") + "}"
    }
  }

  /// Now in UTC as `2026-12-07T18:48:25.123Z`.
  static func timestamp() -> String {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    var seconds = now.tv_sec
    var parts = tm()
    gmtime_r(&seconds, &parts)
    func pad(_ value: Int32, _ width: Int) -> String {
      let text = String(value)
      return String(repeating: "0", count: max(0, width - text.count)) + text
    }
    return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
      + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2)).\(pad(Int32(now.tv_nsec / 1_000_000), 3))Z"
  }
}
