//===----------------------------------------------------------------------===//
// Augmenter — the CheckRequest fields a check reads, whichever way the request was read.
//===----------------------------------------------------------------------===//

import AugmenterCore
import EnvoyAPI
import Foundation

/// What `ExtAuthzCheckService.attributes(of:readingHeaders:)` reads from a CheckRequest: from
/// the bytes on the hot path (`ScannedCheckRequest`), or from a SwiftProtobuf message when the
/// scanner leaves a request to the full decode (and in tests, where the two must agree).
///
/// Paths below are inside `attributes` (#1); `http` is `attributes.request.http`.
protocol CheckRequestFields {
  /// `http.method`.
  var httpMethod: String { get }
  /// `http.path`.
  var httpPath: String { get }
  /// `http.host`.
  var httpHost: String { get }
  /// `http.scheme`.
  var httpScheme: String { get }
  /// `http.headers` (#3) has at least one entry.
  var hasHTTPHeaders: Bool { get }
  /// `http.headers` (#3) as a map; a later entry wins a duplicated key.
  var httpHeaders: [String: String] { get }
  /// `http.headers["x-request-id"]`.
  var httpHeadersRequestID: String? { get }
  /// `http.header_map` (#13) is present, even empty.
  var hasHTTPHeaderMap: Bool { get }
  /// `http.header_map` entries in order, names as sent, each value its text (`headerText`).
  var httpHeaderMapFields: [HeaderField] { get }
  /// The text of the first `http.header_map` entry whose key is exactly `x-request-id`.
  var httpHeaderMapRequestID: String? { get }
  /// `source.address.socket_address.address`; nil when empty or not a socket address.
  var sourceAddress: String? { get }
  /// `destination.address.socket_address.address`; nil when empty or not a socket address.
  var destinationAddress: String? { get }
  /// `context_extensions` (#10).
  var contextExtensions: [String: String] { get }
}

extension Envoy_Service_Auth_V3_CheckRequest: CheckRequestFields {
  var httpMethod: String { self.attributes.request.http.method }
  var httpPath: String { self.attributes.request.http.path }
  var httpHost: String { self.attributes.request.http.host }
  var httpScheme: String { self.attributes.request.http.scheme }
  var hasHTTPHeaders: Bool { !self.attributes.request.http.headers.isEmpty }
  var httpHeaders: [String: String] { self.attributes.request.http.headers }
  var httpHeadersRequestID: String? { self.attributes.request.http.headers["x-request-id"] }
  var hasHTTPHeaderMap: Bool { self.attributes.request.http.hasHeaderMap }

  var httpHeaderMapFields: [HeaderField] {
    self.attributes.request.http.headerMap.headers.map { HeaderField(name: $0.key, value: Self.text(of: $0)) }
  }

  var httpHeaderMapRequestID: String? {
    self.attributes.request.http.headerMap.headers.first { $0.key == "x-request-id" }.map(Self.text(of:))
  }

  var sourceAddress: String? { Self.ipAddress(of: self.attributes.source) }
  var destinationAddress: String? { Self.ipAddress(of: self.attributes.destination) }
  var contextExtensions: [String: String] { self.attributes.contextExtensions }

  /// A header_map entry's value: `raw_value` bytes (what Envoy fills), else `value`.
  private static func text(of entry: Envoy_Config_Core_V3_HeaderValue) -> String {
    entry.value.isEmpty ? String(decoding: entry.rawValue, as: UTF8.self) : entry.value
  }

  /// A peer's socket address (`address.socket_address.address`).
  private static func ipAddress(of peer: Envoy_Service_Auth_V3_AttributeContext.Peer) -> String? {
    guard peer.hasAddress, case .socketAddress(let socket)? = peer.address.address, !socket.address.isEmpty else {
      return nil
    }
    return socket.address
  }
}

extension ScannedCheckRequest: CheckRequestFields {
  var httpMethod: String { self.string(self.method) }
  var httpPath: String { self.string(self.path) }
  var httpHost: String { self.string(self.host) }
  var httpScheme: String { self.string(self.scheme) }
  var hasHTTPHeaders: Bool { self.headerEntryCount > 0 }

  var httpHeaders: [String: String] {
    precondition(self.collectingHeaders || self.headerEntryCount == 0, "headers were not collected")
    return self.dictionary(self.headerEntries)
  }

  var httpHeadersRequestID: String? {
    if self.collectingHeaders {
      return self.httpHeaders["x-request-id"]
    }
    return self.headersRequestID.map { self.string($0.value) }
  }

  var hasHTTPHeaderMap: Bool { self.hasHeaderMap }

  var httpHeaderMapFields: [HeaderField] {
    precondition(self.collectingHeaders || !self.hasHeaderMap, "header_map was not collected")
    return self.headerMapEntries.map { HeaderField(name: self.string($0.key), value: self.text(of: $0)) }
  }

  var httpHeaderMapRequestID: String? {
    if self.collectingHeaders {
      return self.headerMapEntries.first { self.string($0.key) == "x-request-id" }.map(self.text(of:))
    }
    return self.headerMapRequestID.map(self.text(of:))
  }

  var sourceAddress: String? { self.socketAddress(self.source) }
  var destinationAddress: String? { self.socketAddress(self.destination) }

  var contextExtensions: [String: String] {
    self.contextExtensionEntries.isEmpty ? [:] : self.dictionary(self.contextExtensionEntries)
  }

  /// A header_map entry's value: `raw_value` bytes (invalid UTF-8 repaired, as for the decoded
  /// message), else `value`.
  private func text(of entry: HeaderValueEntry) -> String {
    if let value = entry.value, !value.isEmpty {
      return self.string(value)
    }
    return self.string(entry.rawValue)
  }

  private func socketAddress(_ peer: PeerAddress) -> String? {
    guard peer.isSocketAddress, let address = peer.address, !address.isEmpty else { return nil }
    return self.string(address)
  }
}
