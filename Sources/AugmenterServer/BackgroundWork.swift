//===----------------------------------------------------------------------===//
// Augmenter — the provider refreshers, TLS file watchers and configuration reloads, as one Service.
//===----------------------------------------------------------------------===//

import AugmenterCore
import Logging
import ServiceLifecycle
import UnixSignals

/// The work that runs beside the listeners until graceful shutdown: one refresher per provider,
/// one watcher per TLS listener, and configuration reloading (its queue, the file watcher and
/// SIGHUP). Cancelled when its turn to stop comes (after the check listener drained, so no check
/// runs without its refresher).
struct BackgroundWork: Service {
  var refreshers: ProviderRefreshers
  /// The providers of the configuration at startup (reloads start and stop the others).
  var providers: [ProviderState]
  var tlsWatchers: [ListenerTLS]
  var reloader: ConfigReloader
  /// The configuration file to watch; `nil` (built-in defaults): nothing to watch.
  var configPath: String?
  /// How often the configuration file is looked at.
  var watchInterval: Duration = .milliseconds(500)
  var logger: Logger

  func run() async throws {
    self.refreshers.start(self.providers)
    // SIGHUP asks for a reload, as for most daemons; trapping it also stops its default action
    // (terminating the process).
    let hangups = await UnixSignalsSequence(trapping: .sighup)
    let (reloader, logger) = (self.reloader, self.logger)
    await withDiscardingTaskGroup { tasks in
      for tls in self.tlsWatchers {
        tasks.addTask { await tls.watch(logger: logger) }
      }
      tasks.addTask { await reloader.run() }
      if let path = self.configPath {
        let watcher = ConfigFileWatcher(path: path, interval: self.watchInterval)
        tasks.addTask {
          await watcher.run {
            logger.info("configuration file changed: reloading", metadata: ["path": "\(path)"])
            reloader.request(.file)
          }
        }
      }
      tasks.addTask {
        for await _ in hangups {
          logger.info("SIGHUP: reloading the configuration")
          reloader.request(.signal)
        }
      }
      try? await gracefulShutdown()
      reloader.finish()
      tasks.cancelAll()
    }
    await self.refreshers.stopAll()
  }
}
