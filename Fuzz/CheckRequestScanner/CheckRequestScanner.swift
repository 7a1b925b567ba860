//===----------------------------------------------------------------------===//
// Augmenter fuzzing — the CheckRequest wire scanner, differentially against SwiftProtobuf.
//===----------------------------------------------------------------------===//

import AugmenterCore
import EnvoyAPI
import FuzzSupport
import GRPC
import NIOCore
import SwiftProtobuf

@testable import ExtAuthz

// Input: a serialized envoy.service.auth.v3.CheckRequest (unframed).
//
// Invariants, for both header modes (all headers, or only x-request-id):
// - whatever the scanner accepts, SwiftProtobuf's decode accepts too, and the attributes a check
//   reads (method, path, authority, scheme, request id, headers, source and destination
//   addresses, context extensions) are the same from either;
// - the scanner may decline (return nil: the decode decides) but never crashes, whatever the bytes;
// - the same holds for SwiftProtobuf's own re-encoding of every message it decodes (canonical
//   field order, merged duplicates), which the scanner must then also read the same way.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCheckRequestScanner(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
  let bytes = FuzzInput(data, size).bytes
  let decoded = compare(bytes, input: bytes)
  if let decoded, let reencoded: [UInt8] = try? decoded.serializedBytes() {
    _ = compare(reencoded, input: bytes)
  }
  return 0
}

/// Checks the scanner against the decode on `bytes`; returns the decoded request, if any.
private func compare(_ bytes: [UInt8], input: [UInt8]) -> Envoy_Service_Auth_V3_CheckRequest? {
  let buffer = ByteBuffer(bytes: bytes)
  let decoded: Envoy_Service_Auth_V3_CheckRequest?
  do throws(GRPCStatus) {
    decoded = try Envoy_Service_Auth_V3_CheckRequest(grpcRequest: buffer)
  } catch {
    decoded = nil
  }
  for readingHeaders in [true, false] {
    guard let scanned = CheckRequestScanner.scan(buffer, readingHeaders: readingHeaders) else { continue }
    guard let decoded else {
      fuzzFailure("the scanner accepts what SwiftProtobuf refuses (readingHeaders \(readingHeaders))", input: input)
    }
    let expected = ExtAuthzCheckService.attributes(of: decoded, readingHeaders: readingHeaders)
    let actual = ExtAuthzCheckService.attributes(of: scanned, readingHeaders: readingHeaders)
    if actual != expected {
      fuzzFailure(
        "scanner and SwiftProtobuf disagree (readingHeaders \(readingHeaders)): \(differences(actual, expected))",
        input: input)
    }
  }
  return decoded
}

/// Which attributes differ (names only: values may be long or binary).
private func differences(_ a: CheckRequestAttributes, _ b: CheckRequestAttributes) -> String {
  var names: [String] = []
  if a.method != b.method { names.append("method") }
  if a.path != b.path { names.append("path") }
  if a.authority != b.authority { names.append("authority") }
  if a.scheme != b.scheme { names.append("scheme") }
  if a.requestID != b.requestID { names.append("requestID") }
  if a.headers != b.headers { names.append("headers") }
  if a.sourceAddress != b.sourceAddress { names.append("sourceAddress") }
  if a.destinationAddress != b.destinationAddress { names.append("destinationAddress") }
  if a.contextExtensions != b.contextExtensions { names.append("contextExtensions") }
  return names.joined(separator: ", ")
}

@main enum FuzzCheckRequestScannerMain {
  static func main() { runFuzzer(fuzzCheckRequestScanner) }
}
