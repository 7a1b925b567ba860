// The keys of a provider entry and of TLS settings (listener and provider): one declaration each.

extension ProviderConfig: ConfigDefaults {
  static var configDefaults: ProviderConfig { ProviderConfig(name: "", url: "") }
}

extension ProviderConfig {
  /// Every key of a `providers[]` entry.
  static let fields = ConfigFields<ProviderConfig>([
    .text(
      "name", \.name, example: "tokens",
      "Unique name, `[a-z0-9_-]+`, used in logs, /status and `{provider:NAME:HEADER}`; required."),
    .choice(
      "kind", \.kind, example: .oauth2ClientCredentials,
      "Where the headers come from: an http endpoint answering a JSON map, files, or an OAuth 2.0 token endpoint (client credentials, or token exchange of a subject token)."
    ),
    .text(
      "url", \.url, type: "http:// or https:// URL", example: "http://127.0.0.1:8081/headers",
      "kind http: the endpoint fetched with GET; it answers a JSON object of header names to string values. Required."),
    .optionalText(
      "authority", \.authority, example: "sidecar",
      "The Host / :authority presented to the provider, when it differs from the URL's."),
    .duration(
      "ttl", \.ttl, example: "5m",
      "How long fetched headers stay fresh at most; a shorter expires_in, JWT exp or Cache-Control max-age wins. Refreshes start at about 80 % of it."
    ),
    .duration("timeout", \.timeout, example: "1s", "How long one fetch may take; less than ttl."),
    .duration(
      "max_stale", \.maxStale, example: "30s",
      "How long past ttl the last good headers may still be served while refreshes fail; never past a value's own expiry."),
    .duration(
      "expiry_skew", \.expirySkew, example: "10s",
      "How long before a value's own expiry (expires_in, JWT exp) it stops being served."),
    .optionalText(
      "token_file", \.tokenFile, type: "path", example: "/var/run/secrets/tokens/provider",
      "A file holding a bearer token sent to the provider, re-read on every fetch."),
    .boolean("required", \.required, "Whether readiness and on_unavailable consider this provider."),
    .integer("max_answer_bytes", \.maxAnswerBytes, example: "4096", "The largest answer body accepted."),
    ConfigField(
      "header_actions", type: "header name or * → set | append | add_if_absent", example: "{\"*\": append}",
      shape: .namedEntries, environment: false, "How this provider's headers are applied, by name; `*` covers the others. Default set."
    ) { decoder, node, path, provider in
      provider.headerActions = decoder.headerActions(node, path)
    },
    ConfigField(
      "tls", type: "mapping", shape: .mapping, environment: true, children: ProviderTLSConfig.fields.docs,
      "TLS towards an https:// provider: a private CA, a client certificate."
    ) { decoder, node, path, provider in
      provider.tls = decoder.providerTLS(node, path)
    },
    .choice(
      "follow_redirects", \.followRedirects, example: .sameOrigin,
      "Whether a 3xx answer is followed: never, or within the provider's own origin. Another origin is never followed."
    ),
    ConfigField(
      "files", type: "header name → path, or → {path, format}", example: "{authorization: {path: /var/run/token, format: Bearer {}}}",
      shape: .namedEntries, environment: false, children: ProviderFile.fields.docs,
      "kind file: each header and the file its value is read from, re-read when the file changes and at least every ttl. Required."
    ) { decoder, node, path, provider in
      provider.files = decoder.providerFiles(node, path)
    },
    .duration(
      "watch_interval", \.watchInterval, example: "5s",
      "kind file: how often the files are checked for a change (a new inode, size or modification time)."),
    .optionalText(
      "token_url", \.tokenURL, type: "http:// or https:// URL", example: "https://idp.example.com/oauth2/token",
      "kinds oauth2_client_credentials and token_exchange: the token endpoint, POSTed the kind's grant. Required."),
    .optionalText(
      "client_id", \.clientID, example: "augmenter", "kinds oauth2_client_credentials and token_exchange: the client identifier. Required."),
    .optionalText(
      "client_secret_file", \.clientSecretFile, type: "path", example: "/var/run/secrets/oauth/client-secret",
      "kinds oauth2_client_credentials and token_exchange: the file holding the client secret, re-read on every fetch. Required unless client_auth is private_key_jwt."
    ),
    .choice(
      "client_auth", \.clientAuth, example: .clientSecretPost,
      "kinds oauth2_client_credentials and token_exchange: how the client authenticates: HTTP Basic, id and secret in the form, or a JWT signed with its private key."
    ),
    .optionalText(
      "private_key_file", \.privateKeyFile, type: "path", example: "/var/run/secrets/oauth/client.key",
      "kinds oauth2_client_credentials and token_exchange, client_auth private_key_jwt: the PEM private key (RSA or EC P-256), re-read on every fetch."
    ),
    .choice(
      "signing_alg", \.signingAlgorithm, example: .es256,
      "kinds oauth2_client_credentials and token_exchange, client_auth private_key_jwt: RS256 (an RSA key) or ES256 (an EC P-256 key)."),
    .optionalText(
      "key_id", \.keyID, example: "augmenter-2026",
      "kinds oauth2_client_credentials and token_exchange, client_auth private_key_jwt: the kid header of the assertion."),
    .optionalText(
      "scope", \.scope, example: "read write", "kinds oauth2_client_credentials and token_exchange: the scope requested, space-separated."),
    .optionalText(
      "audience", \.audience, example: "https://api.example.com",
      "kinds oauth2_client_credentials and token_exchange: the audience parameter (Auth0, Okta and others)."),
    .optionalText(
      "resource", \.resource, example: "https://api.example.com/",
      "kinds oauth2_client_credentials and token_exchange: the resource parameter (RFC 8707)."),
    .text(
      "header", \.header, example: "x-upstream-token",
      "kinds oauth2_client_credentials and token_exchange: the header the access token is put in."),
    .text(
      "format", \.format, example: "Token {}",
      "kinds oauth2_client_credentials and token_exchange: the header's value, `{}` standing for the access token."),
    .text(
      "token_type", \.tokenType, example: "N_A",
      "kinds oauth2_client_credentials and token_exchange: the token_type the answer must carry (any case); another is refused."),
    .optionalText(
      "subject_token_file", \.subjectTokenFile, type: "path", example: "/var/run/secrets/tokens/idp",
      "kind token_exchange: the file holding the subject token (a projected service-account token), re-read on every fetch. Required."
    ),
    .text(
      "subject_token_type", \.subjectTokenType, example: "urn:ietf:params:oauth:token-type:id_token",
      "kind token_exchange: the subject token's type URI (RFC 8693 §3)."),
    .optionalText(
      "requested_token_type", \.requestedTokenType, example: "urn:ietf:params:oauth:token-type:access_token",
      "kind token_exchange: the type of token asked for; an answer whose issued_token_type differs is refused."),
  ])
}

extension ListenerTLSConfig: ConfigDefaults {
  static var configDefaults: ListenerTLSConfig { ListenerTLSConfig(cert: "", key: "") }
}

extension ListenerTLSConfig {
  /// Every key of `tls` and `admin_tls`.
  static let fields = ConfigFields<ListenerTLSConfig>([
    .text(
      "cert", \.cert, type: "path", example: "/etc/augmenter/tls/tls.crt",
      "The certificate chain, PEM, leaf first; re-read when it changes. Required."),
    .text(
      "key", \.key, type: "path", example: "/etc/augmenter/tls/tls.key",
      "The private key, PEM; re-read when it changes. Required."),
    .optionalText(
      "client_ca", \.clientCA, type: "path", example: "/etc/augmenter/tls/ca.crt",
      "CA certificates that client certificates are verified against; clients are then asked for one."),
    .boolean(
      "require_client_cert", \.requireClientCert,
      "Whether a handshake without a verified client certificate fails; needs client_ca."),
    ConfigField(
      "min_version", type: "1.2 or 1.3", default: configDefaults.minVersion, example: "1.3",
      "The lowest TLS version accepted (TLSv1.3 and tls1.3 are read as 1.3)."
    ) { decoder, node, path, tls in
      if let text = decoder.string(node, path) { tls.minVersion = ListenerTLSConfig.normalizedVersion(text) }
    },
    .optionalText(
      "ciphers", \.ciphers, type: "OpenSSL cipher list", example: "ECDHE+AESGCM",
      "TLS 1.2 ciphers; default ECDHE with AES-GCM or ChaCha20-Poly1305 only."),
    .optionalText(
      "cipher_suites", \.cipherSuites, type: "OpenSSL cipher suites", example: "TLS_AES_256_GCM_SHA384",
      "TLS 1.3 cipher suites; default OpenSSL's three."),
    .duration("handshake_timeout", \.handshakeTimeout, example: "5s", "How long a client may take to complete the handshake."),
    .duration(
      "reload_interval", \.reloadInterval, example: "30s",
      "How often the certificate, key and client CA files are checked for changes."),
  ])

  /// `TLSv1.3`, `tls1.3` and `1.3` all name TLS 1.3; anything else is kept for the validator to quote.
  static func normalizedVersion(_ text: String) -> String {
    var version = Substring(text.trimmingSpaces().lowercased())
    for prefix in ["tlsv", "tls"] where version.hasPrefix(prefix) {
      version = version.dropFirst(prefix.count)
      break
    }
    return versions.contains(String(version)) ? String(version) : text
  }
}

extension ProviderTLSConfig: ConfigDefaults {
  static var configDefaults: ProviderTLSConfig { ProviderTLSConfig() }
}

extension ProviderTLSConfig {
  /// Every key of `providers[].tls`.
  static let fields = ConfigFields<ProviderTLSConfig>([
    .optionalText(
      "ca", \.ca, type: "path", example: "/etc/augmenter/provider-ca.crt",
      "CA certificates trusted for the provider's certificate instead of the system's roots."),
    .optionalText(
      "cert", \.cert, type: "path", example: "/etc/augmenter/client.crt",
      "A client certificate chain presented to the provider (with key)."),
    .optionalText(
      "key", \.key, type: "path", example: "/etc/augmenter/client.key", "The client certificate's private key (with cert)."),
  ])
}
