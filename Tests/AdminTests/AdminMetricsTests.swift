//===----------------------------------------------------------------------===//
// GET /metrics on the admin port, over HTTP/1.1 and HTTP/2.
//===----------------------------------------------------------------------===//

import AugmenterCore
import AugmenterMetrics
import HTTP2
import NIOCore
import NIOHTTP1
import TestSupport
import Testing

@testable import Admin

@Suite struct AdminMetricsTests {
  private func state(metrics: MetricsRegistry?) throws -> AdminState {
    AdminState(registry: ProviderRegistry(config: try makeConfig()), clock: ManualClock(), isDraining: { false }, metrics: metrics)
  }

  @Test func metricsOverHTTP1() throws {
    let metrics = MetricsRegistry(version: "1.2.3")
    let connection = try EmbeddedHTTP1Connection(AdminHandler(state: try state(metrics: metrics)))
    try connection.send("GET /metrics HTTP/1.1\r\nhost: a\r\n\r\n")
    let text = try connection.output()
    #expect(text.hasPrefix("HTTP/1.1 200 OK\r\n"), "\(text)")
    #expect(text.lowercased().contains("content-type: text/plain; version=0.0.4; charset=utf-8\r\n"), "\(text)")
    #expect(text.contains("augmenter_build_info{version=\"1.2.3\"} 1.0\n"), "\(text)")
  }

  @Test func metricsOverHTTP2() throws {
    let metrics = MetricsRegistry(version: "1.2.3")
    let responder = AdminHTTP2Responder(state: try state(metrics: metrics))
    let head = HTTP2RequestHead(streamID: 1, method: "GET", path: "/metrics", authority: "a", scheme: "http", headers: [])
    let response = responder.respond(to: HTTP2Request(head: head, body: ByteBuffer()), allocator: ByteBufferAllocator())
    #expect(response.status == 200)
    #expect(response.headers.contains { $0.name == "content-type" && $0.value == MetricsRegistry.contentType })
    let body = response.body.map { String(buffer: $0) } ?? ""
    #expect(body.contains("# TYPE augmenter_build_info gauge\n"), "\(body)")
  }

  @Test func withoutARegistryMetricsIsNotServed() throws {
    let admin = try state(metrics: nil)
    #expect(admin.respond(method: .GET, uri: "/metrics").0 == .notFound)
    #expect(try state(metrics: MetricsRegistry()).respond(method: .POST, uri: "/metrics").0 == .methodNotAllowed)
  }
}
