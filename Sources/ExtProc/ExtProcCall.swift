//===----------------------------------------------------------------------===//
// Augmenter — one ext_proc stream: one HTTP request's messages, each answered as it arrives.
//===----------------------------------------------------------------------===//

import AugmenterCore
import AugmenterMetrics
import EnvoyAPI
import GRPC
import NIOCore
import SwiftProtobuf

/// The messages of one HTTP request's ext_proc stream: each decoded, answered by
/// `ExtProcService` and sent at once; the call ends with OK when Envoy ends its side.
final class ExtProcCall: GRPCStreamHandler {
  private let service: ExtProcService
  private let stream: GRPCServerStream
  private let peerIdentity: String?
  /// The request's method, path and id, kept from its headers for the response phase.
  private var state = ExtProcService.RequestState()

  init(service: ExtProcService, stream: GRPCServerStream, peerIdentity: String?) {
    self.service = service
    self.stream = stream
    self.peerIdentity = peerIdentity
  }

  func received(_ message: ByteBuffer) {
    let request: Envoy_Service_ExtProc_V3_ProcessingRequest
    do {
      request = try Envoy_Service_ExtProc_V3_ProcessingRequest(serializedBytes: Array(message.readableBytesView))
    } catch {
      self.service.recordUndecodableMessage()
      // SwiftProtobuf's error names the problem, never a field's content.
      self.stream.finish(GRPCStatus(.invalidArgument, "ProcessingRequest is not a valid protobuf message: \(error)"))
      return
    }
    let answer: Envoy_Service_ExtProc_V3_ProcessingResponse?
    do throws(GRPCStatus) {
      answer = try self.service.answer(request, peerIdentity: self.peerIdentity, state: &self.state)
    } catch {
      self.stream.finish(error)
      return
    }
    guard let answer else { return }
    do {
      let bytes: [UInt8] = try answer.serializedBytes()
      self.stream.send(bytes)
    } catch {
      self.stream.finish(GRPCStatus(.internal, "could not encode the ProcessingResponse: \(error)"))
    }
  }

  func receivedEnd() {
    self.stream.finish(GRPCStatus(.ok, ""))
  }

  func cancelled() {}
}
