// The limits and timeouts that bound what one client can cost, and the provider redirect policy:
// defaults, file, environment and validation.

import AugmenterCore
import Testing

@Suite("Reliability settings")
struct ReliabilityConfigTests {
  @Test func defaults() throws {
    let config = try ConfigLoader.parse("", environment: [:])
    #expect(config.maxConnections == 4096)
    #expect(config.drainDelay == .seconds(5))
    #expect(config.http1RequestHeadTimeout == .seconds(10))
    #expect(config.http1RequestBodyTimeout == .seconds(30))
    #expect(config.http1MaxPipelinedRequests == 16)
    #expect(config.http2IdleTimeout == .seconds(3600))
    #expect(config.http2MaxOutboundControlFrames == 1000)
    #expect(config.http2MaxBufferedRequestBytes == 8 << 20)
  }

  @Test func bodyLimitsFollowTheGRPCLimitUnlessSetOnTheirOwn() throws {
    let derived = try ConfigLoader.parse("grpc: {max_message_bytes: 2000}", environment: [:])
    #expect(derived.http1MaxRequestBodyBytes == nil && derived.http2MaxRequestBodyBytes == nil)
    #expect(derived.http1RequestBodyLimit == 2000)
    #expect(derived.http2RequestBodyLimit == 2005)
    let own = try ConfigLoader.parse(
      """
      grpc: {max_message_bytes: 2000}
      http1: {max_request_body_bytes: 64}
      http2: {max_request_body_bytes: 128}
      """, environment: ["AUGMENTER_HTTP1__MAX_REQUEST_BODY_BYTES": "32"])
    #expect(own.http1RequestBodyLimit == 32, "the environment wins over the file")
    #expect(own.http2RequestBodyLimit == 128)
    #expect(own.grpcMaxMessageBytes == 2000)
    let found = problems("http2: {max_buffered_request_bytes: 5000000, max_request_body_bytes: 6000000}")
    #expect(found.map(\.keyPath) == ["http2.max_request_body_bytes"], "\(found)")
  }

  @Test func fromTheFile() throws {
    let config = try ConfigLoader.parse(
      """
      max_connections: 64
      drain_delay: 2500ms
      http1: {request_head_timeout: 2s, request_body_timeout: 3s, max_pipelined_requests: 4}
      http2: {idle_timeout: 90s, max_outbound_control_frames: 50, max_buffered_request_bytes: 5000000}
      providers:
      \(providerYAML("follow_redirects: same_origin"))
      """, environment: [:])
    #expect(config.maxConnections == 64)
    #expect(config.drainDelay == .milliseconds(2500))
    #expect(config.http1RequestHeadTimeout == .seconds(2))
    #expect(config.http1RequestBodyTimeout == .seconds(3))
    #expect(config.http1MaxPipelinedRequests == 4)
    #expect(config.http2IdleTimeout == .seconds(90))
    #expect(config.http2MaxOutboundControlFrames == 50)
    #expect(config.http2MaxBufferedRequestBytes == 5_000_000)
    #expect(config.providers[0].followRedirects == .sameOrigin)
  }

  @Test func fromTheEnvironment() throws {
    let config = try ConfigLoader.parse(
      "providers:\n\(providerYAML())",
      environment: [
        "AUGMENTER_MAX_CONNECTIONS": "10",
        "AUGMENTER_DRAIN_DELAY": "0s",
        "AUGMENTER_HTTP1__REQUEST_HEAD_TIMEOUT": "1s",
        "AUGMENTER_HTTP1__MAX_PIPELINED_REQUESTS": "2",
        "AUGMENTER_HTTP2__IDLE_TIMEOUT": "5m",
        "AUGMENTER_HTTP2__MAX_OUTBOUND_CONTROL_FRAMES": "100",
        "AUGMENTER_PROVIDERS__0__FOLLOW_REDIRECTS": "same_origin",
      ])
    #expect(config.maxConnections == 10)
    #expect(config.drainDelay == .zero)
    #expect(config.http1RequestHeadTimeout == .seconds(1))
    #expect(config.http1MaxPipelinedRequests == 2)
    #expect(config.http2IdleTimeout == .seconds(300))
    #expect(config.http2MaxOutboundControlFrames == 100)
    #expect(config.providers[0].followRedirects == .sameOrigin)
  }

  @Test func everyBadValueIsReportedAtItsKeyPath() {
    let found = problems(
      """
      max_connections: 0
      drain_delay: -1s
      http1: {request_head_timeout: 0s, request_body_timeout: 0s, max_pipelined_requests: 0}
      http2: {idle_timeout: 0s, max_outbound_control_frames: 0, max_buffered_request_bytes: 1000}
      providers:
      \(providerYAML("follow_redirects: always"))
      """)
    let paths = Set(found.map(\.keyPath))
    for path in [
      "max_connections", "drain_delay", "http1.request_head_timeout", "http1.request_body_timeout",
      "http1.max_pipelined_requests", "http2.idle_timeout", "http2.max_outbound_control_frames",
      "http2.max_buffered_request_bytes", "providers[0].follow_redirects",
    ] {
      #expect(paths.contains(path), "no problem at \(path): \(found)")
    }
    let redirect = found.first { $0.keyPath == "providers[0].follow_redirects" }
    #expect(redirect?.message == "expected never or same_origin, got \"always\"")
    let buffered = found.first { $0.keyPath == "http2.max_buffered_request_bytes" }
    #expect(buffered?.message.contains("grpc.max_message_bytes + 5 (4194309)") == true, "\(String(describing: buffered))")
  }

  @Test func unknownKeysInTheNewSectionAreSuggested() {
    let found = problems("http1: {request_head_timout: 1s}\n")
    #expect(found.count == 1)
    #expect(found.first?.keyPath == "http1.request_head_timout")
    #expect(found.first?.message.contains("did you mean request_head_timeout") == true, "\(found)")
  }

  @Test("an empty key is reported at the key path \"\", not at the whole document's (found by fuzzing)")
  func emptyKeyHasAKeyPath() {
    let found = problems("\"\": 1\nhttp2: {\"\": 2}\n")
    #expect(found.map(\.keyPath) == ["\"\"", "http2.\"\""], "\(found)")
  }
}
