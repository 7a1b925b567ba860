//===----------------------------------------------------------------------===//
// End-to-end harness: the application behind Envoy, echoing what it received.
//===----------------------------------------------------------------------===//

import Foundation
import NIOCore
import NIOHTTP1
import Synchronization

/// The application behind Envoy: answers every request with 200 and a JSON body listing every
/// header it received (`{"method", "uri", "headers": [[name, value], ...]}`, duplicates kept),
/// and records each request so a test can assert on exactly what reached the upstream.
final class EchoUpstream: Sendable {
  private let server: HTTP1TestServer
  private let store: RequestStore

  var port: Int { server.port }

  private init(server: HTTP1TestServer, store: RequestStore) {
    self.server = server
    self.store = store
  }

  static func start(scope: TestScope) async throws -> EchoUpstream {
    let store = RequestStore()
    let server = try await HTTP1TestServer.start(name: "echo-upstream", scope: scope) { request, respond, _ in
      store.append(request)
      let object: [String: Any] = [
        "method": request.method,
        "uri": request.uri,
        "headers": request.headers.map { [$0.name, $0.value] },
      ]
      let body = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
      respond(.ok, [HeaderField(name: "content-type", value: "application/json")], Array(body))
    }
    return EchoUpstream(server: server, store: store)
  }

  /// Every request received so far, in arrival order.
  var requests: [ReceivedRequest] { store.all }

  /// The request whose URI is `uri` (tests make each URI unique).
  func request(uri: String) -> ReceivedRequest? {
    store.all.last { $0.uri == uri }
  }
}

/// Requests received by an in-process server, in arrival order.
final class RequestStore: Sendable {
  private let requests = Mutex<[ReceivedRequest]>([])

  func append(_ request: ReceivedRequest) { requests.withLock { $0.append(request) } }
  var all: [ReceivedRequest] { requests.withLock { $0 } }
}
