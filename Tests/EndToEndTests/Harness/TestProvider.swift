//===----------------------------------------------------------------------===//
// End-to-end harness: a header provider whose answers the test changes at run time.
//===----------------------------------------------------------------------===//

import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL
import Synchronization
import TestSupport

/// What the ``TestProvider`` answers; the test changes it at run time.
struct ProviderAnswer: Sendable, CustomStringConvertible {
  var status: Int = 200
  var body: [UInt8] = []
  var contentType = "application/json"
  /// Answer only after this long.
  var delay: Duration?
  /// Never answer (the request stays open until the client gives up).
  var hang = false
  /// Further response headers (e.g. `location` for a redirect).
  var extraHeaders: [HeaderField] = []
  /// A different answer for requests to these exact request-URIs (e.g. a redirect's target).
  var byPath: [String: ProviderAnswer] = [:]
  /// Makes a new answer for each request instead (e.g. a freshly issued token).
  var generate: (@Sendable () -> ProviderAnswer)?

  /// A redirect with `status` to `location`.
  static func redirect(_ status: Int = 302, to location: String) -> ProviderAnswer {
    ProviderAnswer(status: status, contentType: "text/plain", extraHeaders: [HeaderField(name: "location", value: location)])
  }

  /// A 200 with the JSON object `headers` (header name -> value), exactly what a provider sends.
  static func headers(_ headers: [String: String]) -> ProviderAnswer {
    let data = try! JSONSerialization.data(withJSONObject: headers, options: [.sortedKeys])
    return ProviderAnswer(body: Array(data))
  }

  /// Any status and body, for failures and malformed answers.
  static func raw(status: Int, _ body: String, contentType: String = "application/json") -> ProviderAnswer {
    ProviderAnswer(status: status, body: Array(body.utf8), contentType: contentType)
  }

  static var hang: ProviderAnswer { ProviderAnswer(hang: true) }

  /// A new answer from `make` for every request, as an identity provider issues a new token on
  /// every fetch.
  static func generated(_ make: @escaping @Sendable () -> ProviderAnswer) -> ProviderAnswer {
    ProviderAnswer(generate: make)
  }

  var description: String {
    generate != nil
      ? "generated per request"
      : hang ? "hang" : "\(status) \(String(decoding: body, as: UTF8.self).prefix(200))" + (delay.map { " after \($0)" } ?? "")
  }
}

/// The header-providing endpoint Augmenter polls, under the test's control: it answers whatever
/// ``answer`` currently is, counts requests and records the Host and Authorization it got.
final class TestProvider: Sendable {
  private let server: HTTP1TestServer
  private let state: ProviderState
  private let isTLS: Bool

  var port: Int { server.port }
  /// The URL to put in Augmenter's provider config (`https://localhost:PORT/headers` over TLS:
  /// the test server certificates name `localhost`).
  var url: String { isTLS ? "https://localhost:\(port)/headers" : "http://127.0.0.1:\(port)/headers" }

  private init(server: HTTP1TestServer, state: ProviderState, isTLS: Bool) {
    self.server = server
    self.state = state
    self.isTLS = isTLS
  }

  /// Starts the provider; with `tls` it serves HTTPS (see ``TestTLS/serverConfiguration(identity:clientCA:alpn:)``).
  static func start(scope: TestScope, answer: ProviderAnswer, tls: TLSConfiguration? = nil) async throws -> TestProvider {
    let state = ProviderState(answer: answer)
    let server = try await HTTP1TestServer.start(name: "provider", scope: scope, tls: tls) { request, respond, eventLoop in
      let recorded = state.record(request)
      let current = recorded.generate?() ?? recorded
      let answer = current.byPath[request.uri] ?? current
      if answer.hang { return }
      let send: @Sendable () -> Void = {
        respond(
          HTTPResponseStatus(statusCode: answer.status),
          [HeaderField(name: "content-type", value: answer.contentType)] + answer.extraHeaders,
          answer.body)
      }
      if let delay = answer.delay {
        eventLoop.scheduleTask(in: .nanoseconds(delay.nanoseconds)) { send() }
      } else {
        send()
      }
    }
    return TestProvider(server: server, state: state, isTLS: tls != nil)
  }

  /// What the provider answers from now on.
  func setAnswer(_ answer: ProviderAnswer) { state.set(answer) }

  /// How many requests arrived so far (counted when a request is complete, before answering).
  var requestCount: Int { state.requests.count }
  var requests: [ReceivedRequest] { state.requests }

  /// Waits until at least `count` requests have arrived in total.
  @discardableResult
  func waitForRequests(atLeast count: Int, timeout: Duration = .seconds(10)) async throws -> Int {
    try await eventually("provider to receive \(count) request(s) (has \(requestCount))", timeout: timeout) {
      let current = requestCount
      return current >= count ? current : nil
    }
  }
}

private final class ProviderState: Sendable {
  private struct Values {
    var answer: ProviderAnswer
    var requests: [ReceivedRequest] = []
  }
  private let values: Mutex<Values>

  init(answer: ProviderAnswer) { values = Mutex(Values(answer: answer)) }

  func record(_ request: ReceivedRequest) -> ProviderAnswer {
    values.withLock {
      $0.requests.append(request)
      return $0.answer
    }
  }

  func set(_ answer: ProviderAnswer) { values.withLock { $0.answer = answer } }
  var requests: [ReceivedRequest] { values.withLock { $0.requests } }
}
