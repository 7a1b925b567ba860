//===----------------------------------------------------------------------===//
// Augmenter — TLS of the listeners from the configuration (OpenSSL, our TLS module), and every
// TLS file of a configuration checked before serving.
//===----------------------------------------------------------------------===//

public import AugmenterCore
import Foundation
import Logging
import NIOCore
import Providers
import TLS

/// TLS for one listener: the context store new connections draw from, and its timing.
struct ListenerTLS: Sendable {
  /// `tls` or `admin_tls`: the configuration key, used in logs.
  let key: String
  let store: TLSServerContextStore
  let handshakeTimeout: TimeAmount
  let reloadInterval: Duration

  /// The current certificate, for logs (subject, serial, expiry; never key material).
  var certificateDescription: String { self.store.current.certificateDescription }

  /// A handler for a new connection, with the context current now.
  func makeHandler() -> TLSServerHandler {
    TLSServerHandler(context: self.store.current, handshakeTimeout: self.handshakeTimeout)
  }

  /// Re-reads the files every `reloadInterval` until cancelled, logging what changed.
  func watch(logger: Logger) async {
    let key = self.key
    await self.store.watch(every: self.reloadInterval) { outcome in
      switch outcome {
      case .unchanged:
        break
      case .reloaded(let context):
        logger.info("TLS certificate reloaded", metadata: ["listener": "\(key)", "certificate": "\(context.certificateDescription)"])
      case .failed(let error):
        logger.error(
          "TLS certificate reload failed; new handshakes keep the previous certificate",
          metadata: ["listener": "\(key)", "error": "\(error)"])
      }
    }
  }
}

/// Loads the TLS material a configuration names, reporting failures as configuration problems.
public enum TLSSetup {
  /// The TLS module's settings for a listener's `tls` section.
  static func serverConfiguration(_ tls: ListenerTLSConfig) -> TLSServerConfiguration {
    TLSServerConfiguration(
      certificatePath: tls.cert,
      privateKeyPath: tls.key,
      clientCAPath: tls.clientCA,
      requireClientCertificate: tls.requireClientCert,
      minimumVersion: tls.minVersion == "1.3" ? .tls1_3 : .tls1_2,
      ciphers: tls.ciphers ?? TLSServerConfiguration.defaultCiphers,
      cipherSuites: tls.cipherSuites ?? TLSServerConfiguration.defaultCipherSuites
    )
  }

  /// The listener's TLS, loaded; `nil` for a plaintext listener.
  static func listener(_ tls: ListenerTLSConfig?, key: String) throws(ConfigError) -> ListenerTLS? {
    guard let tls else { return nil }
    do {
      let store = try TLSServerContextStore(configuration: Self.serverConfiguration(tls))
      return ListenerTLS(
        key: key, store: store, handshakeTimeout: TimeAmount(tls.handshakeTimeout), reloadInterval: tls.reloadInterval)
    } catch {
      throw ConfigError(problems: [ConfigProblem(keyPath: key, message: error.description)])
    }
  }

  /// Every problem loading the configuration's TLS files: listener certificates, keys and client
  /// CAs through OpenSSL exactly as `serve` loads them, provider CAs and client certificates as
  /// the provider client loads them. Empty when all load.
  public static func problems(in config: AugmenterConfig) -> [ConfigProblem] {
    var problems: [ConfigProblem] = []
    for (key, tls) in [("tls", config.tls), ("admin_tls", config.adminTLS)] {
      do {
        _ = try Self.listener(tls, key: key)
      } catch {
        problems += error.problems
      }
    }
    for (index, provider) in config.providers.enumerated() {
      guard let tls = provider.tls else { continue }
      do {
        _ = try ProviderTLS.clientConfiguration(tls)
      } catch {
        problems.append(ConfigProblem(keyPath: "providers[\(index)].tls", message: "\(error)"))
      }
    }
    return problems
  }
}
