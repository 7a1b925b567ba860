// The top-level keys and the service sections (grpc, http1, http2, http_mode): one declaration
// each. See `ConfigField` for what follows from them.

extension AugmenterConfig: ConfigDefaults {
  static var configDefaults: AugmenterConfig { AugmenterConfig() }
}

extension AugmenterConfig {
  /// Every top-level key, in the order the reference lists them.
  static let fields = ConfigFields<AugmenterConfig>([
    ConfigField(
      "listen", type: "host:port", default: "\(configDefaults.listen)", example: "127.0.0.1:9000",
      "Where checks are served: gRPC ext_authz and health (h2c, or h2 with `tls`) and HTTP-mode checks (HTTP/1.1 or h2c)."
    ) { decoder, node, path, config in
      if let value = decoder.listenAddress(node, path) { config.listen = value }
    }.restartRequired(\.listen),
    ConfigField(
      "admin_listen", type: "host:port", default: "\(configDefaults.adminListen)", example: "127.0.0.1:9001",
      "Where /healthz, /readyz, /status and /metrics are served (HTTP/1.1 and h2c); never the check port."
    ) { decoder, node, path, config in
      if let value = decoder.listenAddress(node, path) { config.adminListen = value }
    }.restartRequired(\.adminListen),
    ConfigField(
      "providers", type: "list of providers", shape: .list, environment: false, children: ProviderConfig.fields.docs,
      "The header providers, polled in the background; their headers are added on every allow. "
        + "`AUGMENTER_PROVIDERS__<INDEX>__<KEY>` overrides a key of a provider the file lists."
    ) { decoder, node, path, config in
      config.providers = decoder.providers(node, path)
    },
    ConfigField(
      "headers", type: "header name → value, or {value | template, action}", shape: .namedEntries,
      environment: false, children: HeaderRule.entryFields.docs,
      "Static and templated headers added on every allow (they win over provider headers). "
        + "`AUGMENTER_HEADERS__<NAME>` sets one, with `_` standing for `-`."
    ) { decoder, node, path, config in
      (config.headers, config.headerRules) = decoder.topLevelHeaders(node, path)
    },
    .choice(
      "on_unavailable", \.onUnavailable, example: .allow,
      "What a check gets when a required provider has no usable headers: deny answers 503 problem+json, allow forwards without them."
    ),
    .section(
      "grpc",
      ConfigFields([
        .integer(
          "max_message_bytes", \.grpcMaxMessageBytes, example: "1048576",
          "The largest gRPC message accepted; a larger one gets RESOURCE_EXHAUSTED."
        ).restartRequired(\.grpcMaxMessageBytes)
      ]),
      "gRPC limits."),
    .section(
      "http2",
      ConfigFields([
        .integer(
          "max_concurrent_streams", \.http2MaxConcurrentStreams, example: "200",
          "SETTINGS_MAX_CONCURRENT_STREAMS: streams one connection may have open."
        ).restartRequired(\.http2MaxConcurrentStreams),
        .integer(
          "initial_window_size", \.http2InitialWindowSize, example: "65535",
          "SETTINGS_INITIAL_WINDOW_SIZE: the per-stream receive window."
        ).restartRequired(\.http2InitialWindowSize),
        .duration(
          "idle_timeout", \.http2IdleTimeout, example: "10m",
          "A connection with no open stream and no frame received for this long is closed with GOAWAY."
        ).restartRequired(\.http2IdleTimeout),
        .integer(
          "max_outbound_control_frames", \.http2MaxOutboundControlFrames, example: "500",
          "Control frames (PING and SETTINGS acknowledgements, RST_STREAM) queued for a peer that does not read them; past it, GOAWAY ENHANCE_YOUR_CALM and close."
        ).restartRequired(\.http2MaxOutboundControlFrames),
        .integer(
          "max_buffered_request_bytes", \.http2MaxBufferedRequestBytes, example: "16777216",
          "Request bytes (header lists and bodies) held across all open streams of one connection; at least grpc.max_message_bytes + 5."
        ).restartRequired(\.http2MaxBufferedRequestBytes),
        .optionalInteger(
          "max_request_body_bytes", \.http2MaxRequestBodyBytes, default: "grpc.max_message_bytes + 5", example: "65536",
          "The largest request body one stream may send; a larger one gets RESOURCE_EXHAUSTED (gRPC) or 413 (HTTP mode). At most max_buffered_request_bytes."
        ).restartRequired(\.http2MaxRequestBodyBytes),
      ]),
      "HTTP/2 settings and limits, check and admin ports."),
    .section(
      "http1",
      ConfigFields([
        .duration(
          "request_head_timeout", \.http1RequestHeadTimeout, example: "5s",
          "How long a request head may take from its first byte to its last; then 408 and close."
        ).restartRequired(\.http1RequestHeadTimeout),
        .duration(
          "request_body_timeout", \.http1RequestBodyTimeout, example: "10s",
          "How long the rest of a request body may take once its head arrived; then 408 and close."
        ).restartRequired(\.http1RequestBodyTimeout),
        .integer(
          "max_pipelined_requests", \.http1MaxPipelinedRequests, example: "4",
          "Requests received but not yet answered on one connection; past it the connection stops reading."
        ).restartRequired(\.http1MaxPipelinedRequests),
        .optionalInteger(
          "max_request_body_bytes", \.http1MaxRequestBodyBytes, default: "grpc.max_message_bytes", example: "65536",
          "The largest request body an HTTP-mode check accepts; a larger one gets 413 and the connection closes."
        ).restartRequired(\.http1MaxRequestBodyBytes),
      ]),
      "HTTP/1.1 limits, check and admin ports."),
    .duration(
      "shutdown_grace_period", \.shutdownGracePeriod, example: "30s",
      "After the GOAWAY on shutdown, how long in-flight checks may take to finish."
    ).restartRequired(\.shutdownGracePeriod),
    .duration(
      "idle_timeout", \.idleTimeout, example: "30s",
      "An HTTP/1.1 connection, or one whose protocol is not known yet, silent this long is closed."
    ).restartRequired(\.idleTimeout),
    ConfigField(
      "log_level", type: "one of \(AugmenterConfig.logLevels.joined(separator: ", "))", default: configDefaults.logLevel,
      example: "debug", "The least severe log level written."
    ) { decoder, node, path, config in
      if let text = decoder.string(node, path) { config.logLevel = text.lowercased() }
    }.restartRequired(\.logLevel),
    .choice(
      "log_format", \.logFormat, example: .json,
      "text: swift-log's lines; json: one object per line (time, level, message, label, source, metadata) for log pipelines."
    ).restartRequired(\.logFormat),
    ConfigField(
      "client_address", type: "peer, or {from, header, trusted_hops}", default: "peer", shape: .mapping,
      environment: false, children: ClientAddressSource.fields.docs,
      "Where rules and templates take the client address from: the peer Envoy reports, or a header such as x-forwarded-for."
    ) { decoder, node, path, config in
      if let value = decoder.clientAddress(node, path) { config.clientAddress = value }
    },
    ConfigField(
      "profiles", type: "profile name → profile", shape: .namedEntries, environment: false,
      children: ProfileConfig.fields.docs, "Named sets of providers and headers that rules select."
    ) { decoder, node, path, config in
      config.profiles = decoder.profiles(node, path)
    },
    ConfigField(
      "rules", type: "list of rules", shape: .list, environment: false, children: PolicyRule.fields.docs,
      "Ordered rules: the first whose match holds decides (a rate limit passes what it lets through on to later rules)."
    ) { decoder, node, path, config in
      config.rules = decoder.rules(node, path)
    },
    ConfigField(
      "default", type: "{allow | redirect | deny}", shape: .mapping, environment: false,
      children: RuleOutcome.defaultFields.docs, "What a request that matches no rule gets; without it, allow."
    ) { decoder, node, path, config in
      config.defaultOutcome = decoder.defaultOutcome(node, path)
    },
    ConfigField(
      "problem_types", type: "status → {type, title}", shape: .namedEntries, environment: false,
      children: ProblemType.fields.docs,
      "The `type` and `title` of the problem+json documents of local answers, by status (400 to 599)."
    ) { decoder, node, path, config in
      config.problemTypes = decoder.problemTypes(node, path)
    },
    .section(
      "error_responses",
      ConfigFields([
        ConfigField(
          "statuses", type: "list of statuses or ranges (400 to 599)", example: "[404, 500-599]", environment: false,
          "Upstream response statuses the ext_proc front rewrites into problem+json (`type` and `title` from "
            + "`problem_types`); empty: none."
        ) { decoder, node, path, config in
          config.errorResponses.statuses = decoder.statusRanges(node, path)
        },
        ConfigField(
          "path_prefixes", type: "list of path prefixes", example: "[/api/]", environment: false,
          "Only responses to requests whose path starts with one of these are rewritten; empty: every path."
        ) { decoder, node, path, config in
          config.errorResponses.pathPrefixes = decoder.pathPrefixList(node, path)
        },
        .integer(
          "quote_body_bytes", \.errorResponses.quoteBodyBytes, example: "512",
          "Quote up to this many bytes of the upstream body in the document's `detail` (0: no quote). Envoy then "
            + "buffers those responses' bodies, so its ext_proc filter needs `allow_mode_override: true`."),
      ]),
      "Upstream errors rewritten into RFC 7807 problem+json on the way back (ext_proc, with response headers sent)."),
    .section(
      "http_mode",
      ConfigFields([
        .optionalText(
          "path_prefix", \.httpModePathPrefix, example: "/ext-authz",
          "A prefix Envoy's HTTP-mode `path_prefix` puts before the original path, stripped before rules and templates see it."
        )
      ]),
      "HTTP-mode ext_authz."),
    ConfigField(
      "tls", type: "mapping, or null for plaintext", shape: .mapping, environment: true, children: ListenerTLSConfig.fields.docs,
      "TLS on the check port (h2 and HTTP/1.1 by ALPN); without it, plaintext."
    ) { decoder, node, path, config in
      config.tls = decoder.listenerTLS(node, path)
    }.restartRequired(\.tls),
    ConfigField(
      "admin_tls", type: "mapping, or null for plaintext", shape: .mapping, environment: true, children: ListenerTLSConfig.fields.docs,
      "TLS on the admin port; without it, plaintext."
    ) { decoder, node, path, config in
      config.adminTLS = decoder.listenerTLS(node, path)
    }.restartRequired(\.adminTLS),
    .integer(
      "max_connections", \.maxConnections, example: "512",
      "Connections each listener (check, admin) holds at most; past it, new connections wait in the kernel's backlog."
    ).restartRequired(\.maxConnections),
    .duration(
      "drain_delay", \.drainDelay, example: "10s",
      "After SIGTERM: readiness and gRPC health say NOT_SERVING while checks are still served this long; then GOAWAY."
    ).restartRequired(\.drainDelay),
  ])
}
