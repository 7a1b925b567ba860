//===----------------------------------------------------------------------===//
// Augmenter — the client side of https providers: trust roots and client certificates (NIOSSL,
// which AsyncHTTPClient speaks).
//===----------------------------------------------------------------------===//

package import AugmenterCore
package import NIOSSL

/// Loads the TLS material a provider's `tls` section names.
package enum ProviderTLS {
  /// A provider TLS setting that could not be loaded.
  package struct ProviderTLSError: Error, CustomStringConvertible {
    package var description: String
  }

  /// The client TLS configuration for an https provider: its CA bundle as the only trust roots
  /// (else the system's), its client certificate and key (if any). The files are read on every
  /// call, so rotated files take effect on the next fetch.
  package static func clientConfiguration(_ tls: ProviderTLSConfig) throws(ProviderTLSError) -> TLSConfiguration {
    var configuration = TLSConfiguration.makeClientConfiguration()
    configuration.minimumTLSVersion = .tlsv12
    do {
      if let ca = tls.ca {
        let roots = try Self.load("ca", ca) { try NIOSSLCertificate.fromPEMFile(ca) }
        guard !roots.isEmpty else { throw ProviderTLSError(description: "ca \(ca): no PEM certificate in the file") }
        configuration.trustRoots = .certificates(roots)
      }
      if let cert = tls.cert, let key = tls.key {
        let chain = try Self.load("cert", cert) { try NIOSSLCertificate.fromPEMFile(cert) }
        guard !chain.isEmpty else { throw ProviderTLSError(description: "cert \(cert): no PEM certificate in the file") }
        let privateKey = try Self.load("key", key) { try NIOSSLPrivateKey(file: key, format: .pem) }
        configuration.certificateChain = chain.map { .certificate($0) }
        configuration.privateKey = .privateKey(privateKey)
      }
    } catch let error as ProviderTLSError {
      throw error
    } catch {
      throw ProviderTLSError(description: "\(error)")
    }
    return configuration
  }

  private static func load<T>(_ key: String, _ path: String, _ body: () throws -> T) throws -> T {
    do {
      return try body()
    } catch {
      throw ProviderTLSError(description: "\(key) \(path): cannot be loaded as PEM (\(error))")
    }
  }
}
