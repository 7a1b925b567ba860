//===----------------------------------------------------------------------===//
// Augmenter — reusing the strings Envoy sends on every check instead of allocating them.
//===----------------------------------------------------------------------===//

#if canImport(Glibc)
import Glibc  // memcmp
#elseif canImport(Darwin)
import Darwin
#endif

/// Swift stores strings of up to 15 UTF-8 bytes inline; longer ones allocate. The longer names
/// and values that arrive on every gRPC check are matched here (length, then memcmp) and shared.
enum CommonHeaderStrings {
  private static let raw: [StaticString] = [
    "application/grpc",
    "/envoy.service.auth.v3.Authorization/Check",
    "/grpc.health.v1.Health/Check",
    "/grpc.health.v1.Health/Watch",
    "x-envoy-internal",
    "grpc-accept-encoding",
    "x-envoy-expected-rq-timeout-ms",
    "identity,deflate,gzip",
  ]
  private static let strings: [String] = Self.raw.map { $0.description }

  /// The string for `bytes`: a shared one when common, else a new one.
  static func string(_ bytes: UnsafeBufferPointer<UInt8>) -> String {
    if bytes.count > 15, let base = bytes.baseAddress {
      for index in 0..<Self.raw.count {
        let candidate = Self.raw[index]
        if candidate.utf8CodeUnitCount == bytes.count, memcmp(candidate.utf8Start, base, bytes.count) == 0 {
          return Self.strings[index]
        }
      }
    }
    return String(decoding: bytes, as: UTF8.self)
  }
}
