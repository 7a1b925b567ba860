//===----------------------------------------------------------------------===//
// Augmenter — the provider refreshers and TLS file watchers, as one Service.
//===----------------------------------------------------------------------===//

import AugmenterCore
import Logging
import ServiceLifecycle

/// The work that runs beside the listeners until graceful shutdown: one refresher per provider
/// and one watcher per TLS listener. Cancelled when its turn to stop comes (after the check
/// listener drained, so no check runs without its refresher).
struct BackgroundWork: Service {
  var refreshers: [ProviderRefresher]
  var tlsWatchers: [ListenerTLS]
  var logger: Logger

  func run() async throws {
    await withDiscardingTaskGroup { tasks in
      for refresher in self.refreshers {
        tasks.addTask { await refresher.run() }
      }
      for tls in self.tlsWatchers {
        let logger = self.logger
        tasks.addTask { await tls.watch(logger: logger) }
      }
      try? await gracefulShutdown()
      tasks.cancelAll()
    }
  }
}
