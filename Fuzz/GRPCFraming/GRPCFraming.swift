//===----------------------------------------------------------------------===//
// Augmenter fuzzing — gRPC deframing (GRPCMessageDeframer, unaryMessage, grpc-message encoding).
//===----------------------------------------------------------------------===//

import FuzzSupport
import GRPC
import NIOCore

// Input: [limit byte][split-size count byte][split sizes...][payload].
//
// Invariants:
// - the messages and the error a deframer yields do not depend on how the bytes are split;
// - each message is at most the limit, and re-framing the messages gives back exactly the bytes
//   consumed (so nothing is lost, duplicated or reordered); what is left is `pendingBytes`;
// - `unaryMessage` accepts exactly when the whole body is one message, and returns that message;
// - `grpc-message` percent-encoding is printable ASCII without a bare `%`, and decodes back.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzGRPCFraming(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
  var input = FuzzInput(data, size)
  let limits = [0, 1, 4, 5, 16, 100, 4096, 4 * 1024 * 1024]
  let limit = limits[input.below(limits.count)]
  var sizes = FuzzInput(Array(input.take(Int(input.byte()) % 16)))
  let payload = input.rest()
  let all = Array(input.bytes)

  struct Outcome: Equatable {
    var messages: [[UInt8]] = []
    var error: GRPCStatus?
    var pending = 0
  }

  func deframe(_ chunks: [ArraySlice<UInt8>]) -> Outcome {
    var deframer = GRPCMessageDeframer(maxMessageBytes: limit)
    var outcome = Outcome()
    do throws(GRPCStatus) {
      for chunk in chunks {
        deframer.append(ByteBuffer(bytes: chunk))
        while let message = try deframer.next() {
          outcome.messages.append(Array(message.readableBytesView))
        }
      }
    } catch {
      outcome.error = error
    }
    outcome.pending = deframer.pendingBytes
    return outcome
  }

  let whole = deframe([payload])
  let split = deframe(input.chunks(of: payload, sizes: &sizes))
  // With a split input an error can only come at the same message, and before it the same messages.
  fuzzCheck(whole.messages == split.messages, "messages depend on the split", input: all)
  fuzzCheck(
    whole.error == split.error, "error depends on the split: \(String(describing: whole.error)) vs \(String(describing: split.error))",
    input: all)
  if whole.error == nil {
    fuzzCheck(whole.pending == split.pending, "pending bytes depend on the split", input: all)
  }

  var reframed: [UInt8] = []
  for message in whole.messages {
    fuzzCheck(message.count <= limit, "a message of \(message.count) bytes passed the limit \(limit)", input: all)
    var buffer = ByteBuffer()
    GRPCMessageFramer.write(message, into: &buffer)
    reframed += buffer.readableBytesView
  }
  fuzzCheck(Array(payload.prefix(reframed.count)) == reframed, "re-framed messages differ from the input", input: all)
  if whole.error == nil {
    fuzzCheck(
      reframed.count + whole.pending == payload.count, "bytes lost: \(reframed.count) + \(whole.pending) != \(payload.count)", input: all)
  }

  do throws(GRPCStatus) {
    let message = try GRPCMessageDeframer.unaryMessage(from: ByteBuffer(bytes: payload), maxMessageBytes: limit)
    fuzzCheck(
      whole.error == nil && whole.messages.count == 1 && whole.pending == 0 && whole.messages[0] == Array(message.readableBytesView),
      "unaryMessage accepted what is not exactly one message",
      input: all
    )
  } catch {
    fuzzCheck(
      !(whole.error == nil && whole.messages.count == 1 && whole.pending == 0),
      "unaryMessage refused one well-formed message: \(error)",
      input: all
    )
    fuzzCheck(!error.description.isEmpty, "empty error", input: all)
  }

  let text = String(decoding: payload, as: UTF8.self)
  let encoded = GRPCMessageEncoding.percentEncode(text)
  fuzzCheck(encoded.utf8.allSatisfy { $0 >= 0x20 && $0 <= 0x7E }, "percent-encoded message holds a byte outside 0x20...0x7E", input: all)
  fuzzCheck(GRPCMessageEncoding.percentDecode(encoded) == text, "percent-encoding does not round-trip", input: all)
  _ = GRPCMessageEncoding.percentDecode(String(decoding: payload, as: UTF8.self))
  return 0
}

@main enum FuzzGRPCFramingMain {
  static func main() { runFuzzer(fuzzGRPCFraming) }
}
