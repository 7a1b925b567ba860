//===----------------------------------------------------------------------===//
// Augmenter — the current TLS context, reloaded when its files change.
//
// Kubernetes rotates a mounted secret by swapping a symlink (`..data`), so the paths stay the same
// while their bytes change. The store re-reads the files (following the links) and compares what
// it read with what it saw last: equal bytes cost one read and one hash per tick, changed bytes
// build a new context. A context that fails to build is reported once, the old one stays, and the
// same bad bytes are not rebuilt on every tick.
//===----------------------------------------------------------------------===//

import Synchronization

/// What a reload attempt did.
public enum TLSReloadOutcome: Sendable {
  /// The files hold the bytes seen last time (loaded or failed): nothing was rebuilt.
  case unchanged
  /// The files changed and the new context is now current.
  case reloaded(TLSServerContext)
  /// The files changed but don't make a valid context; the previous context stays current.
  case failed(TLSError)
}

/// Holds the current `TLSServerContext` and rebuilds it when the files change. New connections
/// take `current`; established connections keep the context they started with.
public final class TLSServerContextStore: Sendable {
  private struct State {
    var current: TLSServerContext
    /// Fingerprint of the bytes last read, whether they built a context or not.
    var lastSeen: [UInt8]
  }

  /// The configuration whose files are watched.
  public let configuration: TLSServerConfiguration
  private let state: Mutex<State>
  /// Serialises reloads, so two concurrent calls can't both build from the same change.
  private let reloading = Mutex<Void>(())

  /// Builds the first context; throws when it can't be built.
  public init(configuration: TLSServerConfiguration) throws(TLSError) {
    var files = try TLSServerFiles(reading: configuration)
    defer { files.wipePrivateKey() }
    let context = try TLSServerContext(configuration: configuration, files: files)
    self.configuration = configuration
    self.state = Mutex(State(current: context, lastSeen: files.fingerprint))
  }

  /// The context new connections use. Cheap: the lock is held only to copy a reference.
  public var current: TLSServerContext {
    self.state.withLock { $0.current }
  }

  /// Re-reads the certificate, key and client CA files; if their bytes differ from the last
  /// bytes seen (loaded or failed), builds a new context and makes it current. On failure the
  /// current context stays; the same bad bytes are not tried again, any further change is.
  ///
  /// The files are read one after the other, so a rotation landing between two reads gives a
  /// certificate with the other pair's key. A failed build is therefore retried (a few times)
  /// when the files changed while it was read, so that a rotation never logs a spurious failure.
  public func reloadIfChanged() -> TLSReloadOutcome {
    var outcome = self.reloadOnce()
    for _ in 0..<Self.rereadsAfterFailure {
      guard case .failed = outcome, self.filesChangedSinceLastSeen() else { break }
      outcome = self.reloadOnce()
    }
    return outcome
  }

  /// How many times a failed reload re-reads files that changed meanwhile.
  static let rereadsAfterFailure = 3

  /// Whether the files now differ from the bytes last seen (loaded or failed).
  private func filesChangedSinceLastSeen() -> Bool {
    let fingerprint: [UInt8]
    do throws(TLSError) {
      var files = try TLSServerFiles(reading: self.configuration)
      defer { files.wipePrivateKey() }
      fingerprint = files.fingerprint
    } catch {
      fingerprint = Self.fingerprint(of: error)
    }
    return self.state.withLock { $0.lastSeen != fingerprint }
  }

  private func reloadOnce() -> TLSReloadOutcome {
    self.reloading.withLock { _ in
      var files: TLSServerFiles
      do throws(TLSError) {
        files = try TLSServerFiles(reading: self.configuration)
      } catch {
        // An unreadable file (mid-rotation, deleted) is a change too, but reported only once.
        let fingerprint = Self.fingerprint(of: error)
        return self.record(fingerprint) { .failed(error) }
      }
      defer { files.wipePrivateKey() }
      let fingerprint = files.fingerprint
      return self.record(fingerprint) {
        do throws(TLSError) {
          let context = try TLSServerContext(configuration: self.configuration, files: files)
          return .reloaded(context)
        } catch {
          return .failed(error)
        }
      }
    }
  }

  /// Calls `reloadIfChanged` every `interval` until the task is cancelled, reporting every
  /// outcome but `.unchanged`.
  public func watch(every interval: Duration, report: @Sendable (TLSReloadOutcome) -> Void) async {
    while !Task.isCancelled {
      do {
        try await Task.sleep(for: interval)
      } catch {
        return
      }
      let outcome = self.reloadIfChanged()
      if case .unchanged = outcome {
        continue
      }
      report(outcome)
    }
  }

  /// Compares `fingerprint` with the last one seen; if it differs, remembers it and runs `build`,
  /// making a reloaded context current.
  private func record(_ fingerprint: [UInt8], build: () -> TLSReloadOutcome) -> TLSReloadOutcome {
    let changed = self.state.withLock { state in
      state.lastSeen != fingerprint
    }
    guard changed else { return .unchanged }
    let outcome = build()
    self.state.withLock { state in
      state.lastSeen = fingerprint
      if case .reloaded(let context) = outcome {
        state.current = context
      }
    }
    return outcome
  }

  /// A read failure has no bytes; its step and reasons stand in for them, so the same failure
  /// isn't reported on every tick while a different one (or the files coming back) is.
  private static func fingerprint(of error: TLSError) -> [UInt8] {
    Array("unreadable\u{0}\(error.operation)\u{0}\(error.detail ?? "")\u{0}\(error.reasons.joined(separator: "\u{0}"))".utf8)
  }
}
