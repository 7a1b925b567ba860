//===----------------------------------------------------------------------===//
// Test support: a configuration with one provider.
//===----------------------------------------------------------------------===//

package import AugmenterCore

/// A config with one required provider `sidecar` (ttl 10s, max_stale 5s) and a static header.
package func makeConfig(onUnavailable: UnavailablePolicy = .deny) throws -> AugmenterConfig {
  try ConfigLoader.parse(
    """
    providers:
      - name: sidecar
        url: http://127.0.0.1:1/headers
        ttl: 10s
        max_stale: 5s
    headers:
      x-static: static-value
    on_unavailable: \(onUnavailable.rawValue)
    """,
    environment: [:]
  )
}
