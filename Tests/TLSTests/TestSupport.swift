//===----------------------------------------------------------------------===//
// Augmenter — TLS test harness: a loopback echo server behind TLSServerHandler, an independent
// TLS client (NIOSSL), a raw TCP client, and the shared throwaway PKI.
//===----------------------------------------------------------------------===//

import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS
import Synchronization
import TLS
import TestCertificates
import TestSupport
import Testing

// MARK: certificates

/// One PKI per test process (key generation is the slow part of setting up a test).
enum Fixtures {
  static let pki: TestPKI = removedAtExit(try! TestPKI.create(name: "Augmenter Test CA"))
  /// An unrelated CA: its certificates must not be accepted.
  static let otherPKI: TestPKI = removedAtExit(try! TestPKI.create(name: "Other CA"))
  static let server: TestIdentity = try! pki.issueServer()
  static let clientWithURI: TestIdentity = try! pki.issueClient(
    name: "uri-client",
    uriSAN: "spiffe://cluster.local/ns/edge/sa/envoy",
    dnsSAN: "envoy.edge.svc"
  )
  static let clientWithDNS: TestIdentity = try! pki.issueClient(name: "dns-client", dnsSAN: "dns-client.example")
  static let clientWithSubject: TestIdentity = try! pki.issueClient(name: "subject-only")
  static let foreignClient: TestIdentity = try! otherPKI.issueClient(name: "foreign", dnsSAN: "foreign.example")

  static func serverConfiguration(
    clientCA: Bool = false,
    requireClientCertificate: Bool = false,
    minimumVersion: TLSProtocolVersion = .tls1_2,
    applicationProtocols: [String] = ["h2", "http/1.1"]
  ) -> TLSServerConfiguration {
    TLSServerConfiguration(
      certificatePath: server.certificatePath,
      privateKeyPath: server.keyPath,
      clientCAPath: clientCA ? pki.caPath : nil,
      requireClientCertificate: requireClientCertificate,
      minimumVersion: minimumVersion,
      applicationProtocols: applicationProtocols
    )
  }

  static func serverContext(
    clientCA: Bool = false,
    requireClientCertificate: Bool = false,
    minimumVersion: TLSProtocolVersion = .tls1_2,
    applicationProtocols: [String] = ["h2", "http/1.1"]
  ) throws -> TLSServerContext {
    try TLSServerContext(
      configuration: serverConfiguration(
        clientCA: clientCA,
        requireClientCertificate: requireClientCertificate,
        minimumVersion: minimumVersion,
        applicationProtocols: applicationProtocols
      )
    )
  }

  /// A NIOSSL client configuration trusting our CA, verifying `localhost`.
  static func clientConfiguration(
    applicationProtocols: [String] = [],
    identity: TestIdentity? = nil,
    minimumVersion: TLSVersion = .tlsv12,
    maximumVersion: TLSVersion? = nil
  ) throws -> TLSConfiguration {
    var configuration = TLSConfiguration.makeClientConfiguration()
    configuration.trustRoots = .file(pki.caPath)
    configuration.certificateVerification = .fullVerification
    configuration.applicationProtocols = applicationProtocols
    configuration.minimumTLSVersion = minimumVersion
    configuration.maximumTLSVersion = maximumVersion
    if let identity {
      configuration.certificateChain = try NIOSSLCertificate.fromPEMFile(identity.certificatePath).map { .certificate($0) }
      configuration.privateKey = .privateKey(try NIOSSLPrivateKey(file: identity.keyPath, format: .pem))
    }
    return configuration
  }
}

/// Directories of the fixture PKIs, deleted when the test process exits.
private let temporaryDirectories = Mutex<[String]>([])

private func removedAtExit(_ pki: TestPKI) -> TestPKI {
  let first = temporaryDirectories.withLock { directories in
    directories.append(pki.directory)
    return directories.count == 1
  }
  if first {
    atexit {
      for directory in temporaryDirectories.withLock({ $0 }) {
        try? FileManager.default.removeItem(atPath: directory)
      }
    }
  }
  return pki
}

// MARK: server

/// What the server side saw of one connection.
struct ServerConnectionRecord: Sendable {
  var handshake: TLSHandshakeCompleted?
  var errors: [TLSConnectionError] = []
  var received = 0
  var closed = false
  /// Index of the first channelRead relative to the handshake event: the event must come first.
  var readBeforeHandshake = false
}

final class ServerRecorder: Sendable {
  private let connections = Mutex<[ServerConnectionRecord]>([])

  func open() -> Int {
    self.connections.withLock { connections in
      connections.append(ServerConnectionRecord())
      return connections.count - 1
    }
  }

  func update(_ index: Int, _ body: (inout ServerConnectionRecord) -> Void) {
    self.connections.withLock { body(&$0[index]) }
  }

  var all: [ServerConnectionRecord] {
    self.connections.withLock { $0 }
  }

  /// Waits for connection `index` to be closed and returns what it saw.
  func closedConnection(_ index: Int) async throws -> ServerConnectionRecord {
    try await eventually("server connection \(index) to close", every: .milliseconds(5)) {
      let all = self.all
      return all.count > index && all[index].closed ? all[index] : nil
    }
  }

  /// Waits for connection `index` to complete its handshake.
  func handshake(_ index: Int) async throws -> TLSHandshakeCompleted {
    try await eventually("server connection \(index) handshake", every: .milliseconds(5)) {
      let all = self.all
      return all.count > index ? all[index].handshake : nil
    }
  }
}

/// Echoes plaintext back; "bye\n" is echoed and then closes the connection (for `s_client`).
final class EchoHandler: ChannelInboundHandler {
  typealias InboundIn = ByteBuffer
  typealias OutboundOut = ByteBuffer

  private let recorder: ServerRecorder
  private let index: Int
  private var sawHandshake = false

  init(recorder: ServerRecorder, index: Int) {
    self.recorder = recorder
    self.index = index
  }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    let buffer = self.unwrapInboundIn(data)
    let sawHandshake = self.sawHandshake
    self.recorder.update(self.index) {
      $0.received += buffer.readableBytes
      if !sawHandshake { $0.readBeforeHandshake = true }
    }
    let bye = buffer.readableBytesView.elementsEqual("bye\n".utf8)
    context.write(self.wrapOutboundOut(buffer), promise: nil)
    if bye {
      context.flush()
      context.close(promise: nil)
    }
  }

  func channelReadComplete(context: ChannelHandlerContext) {
    context.flush()
  }

  func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
    if let completed = event as? TLSHandshakeCompleted {
      self.sawHandshake = true
      self.recorder.update(self.index) { $0.handshake = completed }
    }
    context.fireUserInboundEventTriggered(event)
  }

  func errorCaught(context: ChannelHandlerContext, error: any Error) {
    if let error = error as? TLSConnectionError {
      self.recorder.update(self.index) { $0.errors.append(error) }
    }
  }

  func channelInactive(context: ChannelHandlerContext) {
    self.recorder.update(self.index) { $0.closed = true }
    context.fireChannelInactive()
  }
}

/// A loopback server: TLSServerHandler + EchoHandler on every accepted connection.
final class TestServer: Sendable {
  let channel: any Channel
  let recorder: ServerRecorder
  let port: Int

  private init(channel: any Channel, recorder: ServerRecorder) {
    self.channel = channel
    self.recorder = recorder
    self.port = channel.localAddress!.port!
  }

  /// The handshake timeout of test servers whose test is not about it: long, so that a test
  /// whose client is scheduled late on a loaded machine (the whole suite shares two cores with
  /// the end-to-end tests) is not cut off by a deadline it does not test.
  static let defaultHandshakeTimeout = TimeAmount.seconds(60)

  /// `context` is asked once per accepted connection (a store's `current`, or a fixed context).
  static func start(
    handshakeTimeout: TimeAmount = TestServer.defaultHandshakeTimeout,
    context: @escaping @Sendable () -> TLSServerContext
  ) async throws -> TestServer {
    let recorder = ServerRecorder()
    let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
      .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
      .childChannelInitializer { channel in
        channel.eventLoop.makeCompletedFuture {
          let index = recorder.open()
          try channel.pipeline.syncOperations.addHandler(
            TLSServerHandler(context: context(), handshakeTimeout: handshakeTimeout)
          )
          try channel.pipeline.syncOperations.addHandler(EchoHandler(recorder: recorder, index: index))
        }
      }
      .bind(host: "127.0.0.1", port: 0)
      .get()
    return TestServer(channel: channel, recorder: recorder)
  }

  static func start(handshakeTimeout: TimeAmount = TestServer.defaultHandshakeTimeout, context: TLSServerContext) async throws -> TestServer
  {
    try await Self.start(handshakeTimeout: handshakeTimeout) { context }
  }

  func stop() async {
    try? await self.channel.close()
  }

  /// Runs `body` with a started server and stops the server before returning, whether `body`
  /// returned or threw: the port is closed before the next test starts.
  static func with<T>(
    handshakeTimeout: TimeAmount = TestServer.defaultHandshakeTimeout,
    context: @escaping @Sendable () -> TLSServerContext,
    _ body: (TestServer) async throws -> T
  ) async throws -> T {
    let server = try await Self.start(handshakeTimeout: handshakeTimeout, context: context)
    do {
      let result = try await body(server)
      await server.stop()
      return result
    } catch {
      await server.stop()
      throw error
    }
  }

  /// `with(handshakeTimeout:context:_:)` with one fixed context.
  static func with<T>(
    handshakeTimeout: TimeAmount = TestServer.defaultHandshakeTimeout,
    context: TLSServerContext,
    _ body: (TestServer) async throws -> T
  ) async throws -> T {
    try await Self.with(handshakeTimeout: handshakeTimeout, context: { context }, body)
  }

  /// Proves the server still serves: a fresh client completes a handshake and gets an echo.
  func expectStillServing(identity: TestIdentity? = nil) async throws {
    let before = self.recorder.all.count
    let client = try await TLSTestClient.connect(
      port: self.port,
      configuration: Fixtures.clientConfiguration(identity: identity)
    )
    _ = try await client.handshake()
    try await client.expectEcho(ByteBuffer(string: "still serving"))
    await client.close()
    let record = try await self.recorder.closedConnection(before)
    #expect(record.errors.isEmpty)
  }
}

// MARK: NIOSSL client

/// What the client saw: handshake, bytes, error, close.
struct ClientObservations: Sendable {
  var handshakeCompleted = false
  var negotiatedProtocol: String?
  var received = ByteBuffer()
  /// The first error's description.
  var error: String?
  var closed = false
}

final class ClientCollector: ChannelInboundHandler {
  typealias InboundIn = ByteBuffer

  private let client: TLSTestClient.State

  init(client: TLSTestClient.State) {
    self.client = client
  }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    var buffer = self.unwrapInboundIn(data)
    self.client.update { $0.received.writeBuffer(&buffer) }
  }

  func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
    if case .handshakeCompleted(let negotiated) = event as? TLSUserEvent {
      self.client.update {
        $0.handshakeCompleted = true
        $0.negotiatedProtocol = negotiated
      }
    }
    context.fireUserInboundEventTriggered(event)
  }

  func errorCaught(context: ChannelHandlerContext, error: any Error) {
    self.client.update { if $0.error == nil { $0.error = "\(error)" } }
    context.close(promise: nil)
  }

  func channelInactive(context: ChannelHandlerContext) {
    self.client.update { $0.closed = true }
    context.fireChannelInactive()
  }
}

struct ClientFailed: Error, CustomStringConvertible {
  let error: String?
  var description: String { "client failed: \(self.error ?? "connection closed")" }
}

/// A TLS client made with NIOSSL (BoringSSL): an implementation independent of ours.
final class TLSTestClient: Sendable {
  final class State: Sendable {
    private let observations = Mutex(ClientObservations())
    func update(_ body: (inout ClientObservations) -> Void) {
      self.observations.withLock { body(&$0) }
    }
    var snapshot: ClientObservations {
      self.observations.withLock { $0 }
    }
  }

  let channel: any Channel
  let state: State

  private init(channel: any Channel, state: State) {
    self.channel = channel
    self.state = state
  }

  static func connect(
    port: Int,
    configuration: TLSConfiguration,
    serverHostname: String? = "localhost",
    cutter: CiphertextCutter? = nil
  ) async throws -> TLSTestClient {
    let sslContext = try NIOSSLContext(configuration: configuration)
    let state = State()
    let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
      .channelInitializer { channel in
        channel.eventLoop.makeCompletedFuture {
          if let cutter {
            try channel.pipeline.syncOperations.addHandler(cutter)
          }
          try channel.pipeline.syncOperations.addHandler(
            NIOSSLClientHandler(context: sslContext, serverHostname: serverHostname)
          )
          try channel.pipeline.syncOperations.addHandler(ClientCollector(client: state))
        }
      }
      .connect(host: "127.0.0.1", port: port)
      .get()
    return TLSTestClient(channel: channel, state: state)
  }

  /// Waits for the handshake; returns the negotiated ALPN protocol. Throws if the connection
  /// failed or closed first.
  func handshake() async throws -> String? {
    let observed = try await eventually("client handshake", every: .milliseconds(5)) { () -> ClientObservations? in
      let snapshot = self.state.snapshot
      return snapshot.handshakeCompleted || snapshot.error != nil || snapshot.closed ? snapshot : nil
    }
    guard observed.handshakeCompleted, observed.error == nil else {
      throw ClientFailed(error: observed.error)
    }
    return observed.negotiatedProtocol
  }

  /// Waits until the connection failed or closed; returns the error (nil if it just closed).
  func failure() async throws -> String? {
    let observed = try await eventually("client failure", every: .milliseconds(5)) { () -> ClientObservations? in
      let snapshot = self.state.snapshot
      return snapshot.error != nil || snapshot.closed ? snapshot : nil
    }
    return observed.error
  }

  /// Sends `payload` and waits until exactly the same bytes came back.
  func expectEcho(_ payload: ByteBuffer, timeout: Duration = .seconds(10)) async throws {
    let start = self.state.snapshot.received.readableBytes
    try await self.channel.writeAndFlush(payload)
    let received = try await eventually(
      "echo of \(payload.readableBytes) bytes", timeout: timeout, every: .milliseconds(5), retryingErrors: false
    ) { () -> ByteBuffer? in
      let snapshot = self.state.snapshot
      if let error = snapshot.error { throw ClientFailed(error: error) }
      if snapshot.received.readableBytes >= start + payload.readableBytes {
        return snapshot.received.getSlice(at: snapshot.received.readerIndex + start, length: payload.readableBytes)
      }
      if snapshot.closed { throw ClientFailed(error: nil) }
      return nil
    }
    #expect(received == payload)
  }

  /// The serial number of the certificate the server presented, upper-case hex.
  func peerCertificateSerial() async throws -> String? {
    guard let certificate = try await self.channel.nioSSL_peerCertificate().get() else { return nil }
    let hex = certificate.serialNumber.map { String($0, radix: 16, uppercase: true) }
      .map { $0.count == 1 ? "0" + $0 : $0 }
      .joined()
    return String(hex.drop { $0 == "0" })
  }

  func close() async {
    try? await self.channel.close()
  }
}

// MARK: cutting a TLS client's output

/// Sits between NIOSSL and the socket of a client. Once armed, it lets only a prefix of the next
/// ciphertext write through and then closes the socket itself: behind NIOSSL's back, so no
/// close_notify is sent. A prefix of nil passes the whole write (EOF at a record boundary).
final class CiphertextCutter: ChannelOutboundHandler, Sendable {
  typealias OutboundIn = ByteBuffer
  typealias OutboundOut = ByteBuffer

  private let armed = Mutex<Int??>(nil)

  /// The next write is cut to `prefix` bytes (nil: kept whole), then the socket closes.
  func arm(prefix: Int?) {
    self.armed.withLock { $0 = .some(prefix) }
  }

  func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
    guard let prefix = self.armed.withLock({ $0 }) else {
      context.write(data, promise: promise)
      return
    }
    let buffer = self.unwrapOutboundIn(data)
    let kept = prefix.map { buffer.getSlice(at: buffer.readerIndex, length: min($0, buffer.readableBytes))! } ?? buffer
    context.writeAndFlush(self.wrapOutboundOut(kept), promise: promise)
    context.close(promise: nil)
  }
}

// MARK: raw TCP client

/// A plain TCP client: sends arbitrary bytes, records what comes back and when it's closed.
final class RawTestClient: Sendable {
  final class Collector: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    let received = Mutex(ByteBuffer())
    let closed = Mutex(false)

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
      var buffer = self.unwrapInboundIn(data)
      self.received.withLock { _ = $0.writeBuffer(&buffer) }
    }

    func channelInactive(context: ChannelHandlerContext) {
      self.closed.withLock { $0 = true }
      context.fireChannelInactive()
    }
  }

  let channel: any Channel
  let collector: Collector

  private init(channel: any Channel, collector: Collector) {
    self.channel = channel
    self.collector = collector
  }

  static func connect(port: Int) async throws -> RawTestClient {
    let collector = Collector()
    let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
      .channelInitializer { channel in
        channel.eventLoop.makeCompletedFuture {
          try channel.pipeline.syncOperations.addHandler(collector)
        }
      }
      .connect(host: "127.0.0.1", port: port)
      .get()
    return RawTestClient(channel: channel, collector: collector)
  }

  func send(_ bytes: [UInt8]) async throws {
    try await self.channel.writeAndFlush(ByteBuffer(bytes: bytes))
  }

  func send(_ buffer: ByteBuffer) async throws {
    try await self.channel.writeAndFlush(buffer)
  }

  /// Everything received so far.
  var received: ByteBuffer {
    self.collector.received.withLock { $0 }
  }

  /// Takes everything received so far.
  func takeReceived() -> ByteBuffer {
    self.collector.received.withLock { buffer in
      defer { buffer.clear() }
      return buffer
    }
  }

  func waitClosed() async throws {
    _ = try await eventually("the server to close the raw connection", every: .milliseconds(5)) {
      self.collector.closed.withLock { $0 } ? true : nil
    }
  }

  func close() async {
    try? await self.channel.close()
  }
}

// MARK: openssl s_client

/// Runs `openssl s_client` against the server; stdin "bye\n" makes the echo server close, so
/// s_client exits after it has read the session tickets (which precede the echo). Async: a
/// blocking wait would hold one of the few cooperative threads the other tests share.
func sClient(port: Int, arguments: [String]) async throws -> String {
  let result = try await Command.run(
    "/usr/bin/env",
    ["openssl", "s_client", "-connect", "127.0.0.1:\(port)", "-servername", "localhost", "-CAfile", Fixtures.pki.caPath, "-ign_eof"]
      + arguments,
    stdin: "bye\n",
    timeout: .seconds(15),
    mergingStandardError: true
  )
  return result.stdout
}
