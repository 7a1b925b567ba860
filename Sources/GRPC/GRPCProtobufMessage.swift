//===----------------------------------------------------------------------===//
// Augmenter — decoding a gRPC request message, or the INVALID_ARGUMENT that names what it isn't.
//===----------------------------------------------------------------------===//

package import NIOCore
package import SwiftProtobuf

extension SwiftProtobuf.Message {
  /// Decodes one request message; a body that is not a valid `M` is INVALID_ARGUMENT naming the
  /// message type and the decoder's reason.
  package init(grpcRequest message: ByteBuffer) throws(GRPCStatus) {
    do {
      try self.init(serializedBytes: Array(message.readableBytesView))
    } catch {
      throw GRPCStatus(.invalidArgument, "request is not a valid \(Self.protoMessageName): \(error)")
    }
  }
}
