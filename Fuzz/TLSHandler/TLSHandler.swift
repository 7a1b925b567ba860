//===----------------------------------------------------------------------===//
// Augmenter fuzzing — TLSServerHandler (OpenSSL over memory BIOs) fed arbitrary client bytes.
//===----------------------------------------------------------------------===//

import Foundation
import FuzzSupport
import NIOCore
import NIOEmbedded
import TLS

// Input: [mode byte][split-size count byte][split sizes...][client bytes].
// Mode bit 0: the server requests and verifies client certificates (TLS 1.2 sends them in clear,
// so the fuzzer reaches OpenSSL's certificate parsing); bit 1: TLS 1.3 only.
//
// Invariants:
// - no crash and no leak (ASan) on any bytes, split anywhere;
// - without the client's keys no handshake completes: no handshake event, and no byte reaches
//   the application behind the handler;
// - what the application wrote before the handshake is never sent (not in clear, not at all);
// - everything the server writes is whole TLS records: content type 20-23, version 3.x (alerts
//   excepted, see below), length within 2^14 + 2048; nothing is written after the channel closed.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTLSHandler(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
  var input = FuzzInput(data, size)
  let all = input.bytes
  let mode = input.byte()
  var sizes = FuzzInput(Array(input.take(Int(input.byte()) % 16)))
  let payload = input.rest()
  let context = Contexts.shared.pick(mode)

  let channel = EmbeddedChannel()
  let application = Application()
  do {
    try channel.pipeline.syncOperations.addHandler(TLSServerHandler(context: context))
    try channel.pipeline.syncOperations.addHandler(application)
    try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
  } catch {
    fuzzFailure("setting up the channel failed: \(error)", input: all)
  }
  var written: [UInt8] = []
  func drain() {
    while let buffer = try? channel.readOutbound(as: ByteBuffer.self) {
      written += buffer.readableBytesView
    }
  }
  var closedAt: Int?
  for chunk in input.chunks(of: payload, sizes: &sizes) {
    guard channel.isActive else { break }
    _ = try? channel.writeInbound(ByteBuffer(bytes: chunk))
    channel.embeddedEventLoop.run()
    drain()
    if !channel.isActive, closedAt == nil { closedAt = written.count }
  }
  _ = try? channel.finish()
  drain()
  if let closedAt {
    fuzzCheck(written.count == closedAt, "bytes written after the channel closed", input: all)
  }

  fuzzCheck(!application.handshakeCompleted, "a handshake completed without the client's keys", input: all)
  fuzzCheck(application.received == 0, "\(application.received) bytes reached the application", input: all)
  fuzzCheck(
    !contains(written, Application.secret), "the application's early write went out in clear", input: all)
  var offset = 0
  while offset < written.count {
    fuzzCheck(offset + 5 <= written.count, "partial record header", input: all)
    let type = written[offset]
    let major = written[offset + 1]
    let length = Int(written[offset + 3]) << 8 | Int(written[offset + 4])
    fuzzCheck((20...23).contains(type), "record of content type \(type)", input: all)
    // OpenSSL 3.0 answers a ClientHello whose legacy_version is nonsense with a protocol_version
    // alert whose record header repeats that version (e.g. 0x000b; `openssl s_server` does the
    // same): so the version is only checked on records other than alerts.
    fuzzCheck(major == 3 || type == 21, "record version \(major).\(written[offset + 2])", input: all)
    fuzzCheck(length <= 16_384 + 2_048, "record of \(length) bytes", input: all)
    fuzzCheck(offset + 5 + length <= written.count, "partial record", input: all)
    offset += 5 + length
  }
  return 0
}

private func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
  guard haystack.count >= needle.count else { return false }
  for start in 0...(haystack.count - needle.count) where haystack[start] == needle[0] {
    if haystack[start..<(start + needle.count)].elementsEqual(needle) { return true }
  }
  return false
}

/// Behind the TLS handler: writes before the handshake (they must be held, never sent), counts
/// what it receives and whether a handshake completed.
final class Application: ChannelInboundHandler {
  typealias InboundIn = ByteBuffer
  typealias OutboundOut = ByteBuffer
  static let secret = Array("early-application-secret-0123456789".utf8)
  var received = 0
  var handshakeCompleted = false

  func channelActive(context: ChannelHandlerContext) {
    context.writeAndFlush(Self.wrapOutboundOut(ByteBuffer(bytes: Self.secret)), promise: nil)
    context.fireChannelActive()
  }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    self.received += Self.unwrapInboundIn(data).readableBytes
  }

  func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
    if event is TLSHandshakeCompleted { self.handshakeCompleted = true }
    context.fireUserInboundEventTriggered(event)
  }

  func errorCaught(context: ChannelHandlerContext, error: any Error) {}
}

/// Server contexts over a throwaway self-signed ECDSA certificate, made once per process with the
/// openssl command (AUGMENTER_FUZZ_TLS_DIR may hold cert.pem and key.pem made beforehand).
final class Contexts: Sendable {
  static let shared = Contexts()
  let plain: TLSServerContext
  let clientCertificates: TLSServerContext
  let tls13Only: TLSServerContext

  init() {
    let directory: String
    if let given = ProcessInfo.processInfo.environment["AUGMENTER_FUZZ_TLS_DIR"],
      FileManager.default.fileExists(atPath: given + "/cert.pem")
    {
      directory = given
    } else {
      directory = NSTemporaryDirectory() + "augmenter-fuzz-tls-\(getpid())"
      try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
      let process = Process()
      process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
      process.arguments = [
        "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost", "-days", "3650",
        "-keyout", directory + "/key.pem", "-out", directory + "/cert.pem",
      ]
      process.standardOutput = FileHandle.nullDevice
      process.standardError = FileHandle.nullDevice
      do {
        try process.run()
        process.waitUntilExit()
      } catch {
        fatalError("cannot run openssl to make the fuzzing certificate: \(error)")
      }
      precondition(process.terminationStatus == 0, "openssl req failed (status \(process.terminationStatus))")
    }
    func make(clientCA: Bool, minimum: TLSProtocolVersion) -> TLSServerContext {
      do {
        return try TLSServerContext(
          configuration: TLSServerConfiguration(
            certificatePath: directory + "/cert.pem",
            privateKeyPath: directory + "/key.pem",
            clientCAPath: clientCA ? directory + "/cert.pem" : nil,
            requireClientCertificate: clientCA,
            minimumVersion: minimum
          ))
      } catch {
        fatalError("cannot load the fuzzing certificate from \(directory): \(error)")
      }
    }
    self.plain = make(clientCA: false, minimum: .tls1_2)
    self.clientCertificates = make(clientCA: true, minimum: .tls1_2)
    self.tls13Only = make(clientCA: false, minimum: .tls1_3)
  }

  func pick(_ mode: UInt8) -> TLSServerContext {
    if mode & 2 != 0 { return self.tls13Only }
    return mode & 1 != 0 ? self.clientCertificates : self.plain
  }
}

@main enum FuzzTLSHandlerMain {
  static func main() { runFuzzer(fuzzTLSHandler) }
}
