//===----------------------------------------------------------------------===//
// Augmenter — every metric Augmenter exports, declared once.
//===----------------------------------------------------------------------===//

/// Every metric of `/metrics`: name, type, help and labels, one declaration each.
///
/// Label values come from bounded sets only: the front (`grpc`, `http`), the outcome kinds, the
/// rule and profile names of the configuration (an unnamed rule is its index), the provider
/// names, the fetch results and the version. No header value, path or client address.
public enum MetricCatalog {
  /// Checks answered, by front, outcome, rule and profile.
  public static let checks = MetricDeclaration(
    "augmenter_checks_total", .counter,
    help: "Checks answered, by front (grpc, http), outcome, deciding rule (name, index, or default) and profile.",
    labels: ["front", "outcome", "rule", "profile"])

  /// How long a check took inside Augmenter, by front.
  public static let checkDuration = MetricDeclaration(
    "augmenter_check_duration_seconds", .histogram,
    help: "Time from a check's request message to its encoded answer, by front.",
    labels: ["front"])

  /// Provider fetches, by provider and result.
  public static let providerFetches = MetricDeclaration(
    "augmenter_provider_fetches_total", .counter,
    help: "Provider fetches finished, by provider and result (ok, rejected, http_error, timeout, connect_error).",
    labels: ["provider", "result"])

  /// How long provider fetches took.
  public static let providerFetchDuration = MetricDeclaration(
    "augmenter_provider_fetch_duration_seconds", .histogram,
    help: "Time from the start of a provider fetch to its result, by provider.",
    labels: ["provider"])

  /// When the provider's current headers were fetched.
  public static let providerLastSuccess = MetricDeclaration(
    "augmenter_provider_last_success_timestamp_seconds", .gauge,
    help: "Unix time of the fetch behind the provider's current headers (0: never fetched).",
    labels: ["provider"])

  /// When the provider's current headers stop being usable.
  public static let providerHeadersExpiry = MetricDeclaration(
    "augmenter_provider_headers_expiry_timestamp_seconds", .gauge,
    help:
      "Unix time at which the provider's current headers stop being usable: fetch + ttl + max_stale, or their own expiry minus expiry_skew if sooner (0: none).",
    labels: ["provider"])

  /// Whether the provider's headers are usable now.
  public static let providerUsable = MetricDeclaration(
    "augmenter_provider_usable", .gauge,
    help: "1 if the provider's headers may be served now (within ttl + max_stale and before their expiry minus expiry_skew), else 0.",
    labels: ["provider"])

  /// Failed or rejected fetches since the provider's last success.
  public static let providerConsecutiveFailures = MetricDeclaration(
    "augmenter_provider_consecutive_failures", .gauge,
    help: "Failed or rejected fetches of the provider since its last success.",
    labels: ["provider"])

  /// Connections open, by listener and protocol.
  public static let connectionsOpen = MetricDeclaration(
    "augmenter_connections_open", .gauge,
    help: "Open connections whose protocol is known, by listener (check, admin) and protocol (http1, h2).",
    labels: ["listener", "protocol"])

  /// Keys a rate-limit rule holds a bucket for.
  public static let rateLimitKeys = MetricDeclaration(
    "augmenter_rate_limit_keys", .gauge,
    help: "Keys whose token bucket is not full (what the rule must remember), by rate_limit rule.",
    labels: ["rule"])

  /// Keys forgotten to make room in a rate-limit rule's table.
  public static let rateLimitKeysEvicted = MetricDeclaration(
    "augmenter_rate_limit_keys_evicted_total", .counter,
    help: "Keys whose slot was given to another key because the table was full near it, by rate_limit rule.",
    labels: ["rule"])

  /// The build, as a constant 1 with its version.
  public static let buildInfo = MetricDeclaration(
    "augmenter_build_info", .gauge,
    help: "Always 1; the version label tells which build is running.",
    labels: ["version"])

  /// Whether the configuration in force loaded.
  public static let configLastReloadSuccessful = MetricDeclaration(
    "augmenter_config_last_reload_successful", .gauge,
    help:
      "1 if the last configuration load (at startup or a reload) succeeded, 0 if the last reload failed and the previous configuration stayed in force."
  )

  /// When the configuration in force was loaded.
  public static let configLastReloadSuccessTimestamp = MetricDeclaration(
    "augmenter_config_last_reload_success_timestamp_seconds", .gauge,
    help: "Unix time of the last successful configuration load (startup or reload).")

  /// Every metric, in the order of the README's list.
  public static let all: [MetricDeclaration] = [
    checks, checkDuration,
    providerFetches, providerFetchDuration, providerLastSuccess, providerHeadersExpiry, providerUsable,
    providerConsecutiveFailures,
    connectionsOpen, rateLimitKeys, rateLimitKeysEvicted,
    buildInfo, configLastReloadSuccessful, configLastReloadSuccessTimestamp,
  ]

  /// The check-duration buckets: 5 µs to 100 ms (checks take microseconds), in nanoseconds
  /// with their `le` text.
  public static let checkDurationBuckets: [(nanoseconds: Int64, text: String)] = [
    (5_000, "0.000005"), (10_000, "0.00001"), (25_000, "0.000025"), (50_000, "0.00005"),
    (100_000, "0.0001"), (250_000, "0.00025"), (500_000, "0.0005"), (1_000_000, "0.001"),
    (2_500_000, "0.0025"), (5_000_000, "0.005"), (10_000_000, "0.01"), (25_000_000, "0.025"),
    (50_000_000, "0.05"), (100_000_000, "0.1"),
  ]

  /// The provider fetch-duration buckets: 1 ms to 10 s (fetches cross the network).
  public static let providerFetchDurationBuckets: [Duration] = [
    .milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
    .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500),
    .seconds(5), .seconds(10),
  ]
}
