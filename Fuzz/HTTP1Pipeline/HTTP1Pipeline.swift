//===----------------------------------------------------------------------===//
// Augmenter fuzzing — the HTTP/1.1 check pipeline (NIOHTTP1 decoder, pipelining, error and check
// handlers) on an EmbeddedChannel, fed arbitrary bytes.
//===----------------------------------------------------------------------===//

import AugmenterCore
import ExtAuthz
import FuzzSupport
import HTTP1
import Logging
import NIOCore
import NIOEmbedded
import NIOHTTP1

// Input: [split-size count byte][split sizes...][client bytes].
//
// The pipeline is the check port's HTTP/1.1 one, built by the same call
// (`HTTP1ServerPipeline.addHandlers`: input gate, decoder with the same limits, response
// encoder, pipelining bound, deadlines, NIO's pipelining handler, HTTP1ErrorHandler), then
// HTTP1CheckHandler over a policy with templates, a redirect, a deny and a rate limit. A
// recorder right after the decoder notes every request head.
//
// Invariants:
// - no crash whatever the client sends, on any split;
// - everything written back is a sequence of complete, well-formed HTTP/1.x responses: a status
//   line `HTTP/1.1` (or `HTTP/1.0` for a 1.0 request) with a 3-digit status, header lines
//   `token: value` without CR, LF or NUL in values, exactly one content-length (no chunking),
//   and exactly that many body bytes (none for HEAD);
// - one response per request head, in order, plus at most one 400/431 for a parse error; once
//   a response says `connection: close` nothing follows it and the channel closes;
// - nothing is written after the channel closed.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHTTP1Pipeline(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
  var input = FuzzInput(data, size)
  let all = input.bytes
  var sizes = FuzzInput(Array(input.take(Int(input.byte()) % 16)))
  let payload = input.rest()

  let channel = EmbeddedChannel()
  let heads = HeadRecorder()
  do {
    let pipeline = channel.pipeline.syncOperations
    try HTTP1ServerPipeline.addHandlers(settings: Service.shared.http1, logger: Service.shared.logger) { handler in
      try pipeline.addHandler(handler)
      if handler is ByteToMessageHandler<HTTPRequestDecoder> { try pipeline.addHandler(heads) }
    }
    try pipeline.addHandler(HTTP1CheckHandler(service: Service.shared.check, maxBodyBytes: 1024))
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
    // As a socket would: after each read, auto-read asks for more, which lets the input gate hand
    // on its next slice (and the pipelining bound hold reads while answers are queued). Until
    // nothing more comes out; a chunk of n bytes has at most n / 4 KiB + 1 slices.
    for _ in 0...(chunk.count / HTTP1InputGate.defaultSliceBytes + 1) where channel.isActive {
      channel.read()
      channel.embeddedEventLoop.run()
    }
    drain()
    if !channel.isActive, closedAt == nil { closedAt = written.count }
  }
  let activeAtEnd = channel.isActive
  let writtenBeforeFinish = written.count
  _ = try? channel.finish(acceptAlreadyClosed: true)
  drain()
  // Closing the channel ourselves cuts off a request in progress, which the decoder reports: an
  // answer (400, `connection: close`) written then belongs to a connection that is closing.
  let closedByFinish = written.count > writtenBeforeFinish
  // Timers still scheduled (a deadline, the close grace after a 408) hold the channel from the
  // embedded loop, which would otherwise keep the whole pipeline alive after this input; a real
  // loop runs them when they fall due. Let them fall due here, after the output was taken.
  channel.embeddedEventLoop.advanceTime(by: .hours(1))
  if let closedAt {
    fuzzCheck(written.count == closedAt, "bytes written after the channel closed", input: all)
  }
  checkResponses(written, heads: heads.heads, closedBeforeEnd: !activeAtEnd || closedByFinish, input: all)
  return 0
}

/// Reads `bytes` as HTTP/1.x responses, strictly.
private func checkResponses(_ bytes: [UInt8], heads: [HTTPRequestHead], closedBeforeEnd: Bool, input: [UInt8]) {
  var offset = 0
  var index = 0
  var sawClose = false
  while offset < bytes.count {
    fuzzCheck(!sawClose, "a response after `connection: close`", input: input)
    let head = index < heads.count ? heads[index] : nil
    guard let headEnd = find([13, 10, 13, 10], in: bytes, from: offset) else {
      fuzzFailure("a response head without its blank line", input: input)
    }
    let lines = split(bytes[offset..<headEnd])
    let statusLine = String(decoding: lines[0], as: UTF8.self)
    let parts = statusLine.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
    fuzzCheck(parts.count >= 2, "status line \(statusLine.debugDescription)", input: input)
    fuzzCheck(parts[0] == "HTTP/1.1" || parts[0] == "HTTP/1.0", "status line version \(parts[0].debugDescription)", input: input)
    fuzzCheck(
      parts[1].utf8.count == 3 && parts[1].allSatisfy(\.isASCII) && parts[1].allSatisfy(\.isNumber),
      "status code \(parts[1].debugDescription)", input: input)
    let status = Int(parts[1]) ?? 0
    fuzzCheck((100...599).contains(status), "status \(status)", input: input)
    var contentLengths: [Int] = []
    for line in lines.dropFirst() {
      guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else {
        fuzzFailure("header line without a colon", input: input)
      }
      let name = line[line.startIndex..<colon]
      fuzzCheck(!name.isEmpty && name.allSatisfy(isTokenByte), "header name is not a token", input: input)
      let value = line[(colon + 1)...]
      fuzzCheck(!value.contains(0) && !value.contains(13) && !value.contains(10), "CR, LF or NUL in a header value", input: input)
      let lowered = String(decoding: name, as: UTF8.self).lowercased()
      let text = String(decoding: value, as: UTF8.self).trimmingSpaces()
      if lowered == "content-length" {
        guard let length = Int(text), length >= 0, text.allSatisfy(\.isNumber) else {
          fuzzFailure("content-length \(text.debugDescription)", input: input)
        }
        contentLengths.append(length)
      }
      fuzzCheck(lowered != "transfer-encoding", "a chunked or encoded response", input: input)
      if lowered == "connection" && text.lowercased() == "close" { sawClose = true }
    }
    fuzzCheck(contentLengths.count == 1, "\(contentLengths.count) content-length headers", input: input)
    var bodyLength = contentLengths[0]
    if head?.method == .HEAD {
      // An answer to HEAD has no body; a parse-error answer (400/431) after it has one.
      let rest = bytes[(headEnd + 4)...]
      if rest.isEmpty || rest.starts(with: Array("HTTP/1.".utf8)) { bodyLength = 0 }
    }
    fuzzCheck(headEnd + 4 + bodyLength <= bytes.count, "body shorter than its content-length", input: input)
    offset = headEnd + 4 + bodyLength
    index += 1
  }
  fuzzCheck(index <= heads.count + 1, "\(index) responses to \(heads.count) requests", input: input)
  if sawClose {
    fuzzCheck(closedBeforeEnd, "`connection: close` sent but the connection stayed open", input: input)
  }
}

private func find(_ needle: [UInt8], in bytes: [UInt8], from start: Int) -> Int? {
  guard bytes.count >= needle.count, start <= bytes.count - needle.count else { return nil }
  for index in start...(bytes.count - needle.count) where bytes[index] == needle[0] {
    if bytes[index..<(index + needle.count)].elementsEqual(needle) { return index }
  }
  return nil
}

/// Lines of a head separated by CRLF (a bare CR or LF is left inside a line and caught there).
private func split(_ head: ArraySlice<UInt8>) -> [ArraySlice<UInt8>] {
  var lines: [ArraySlice<UInt8>] = []
  var start = head.startIndex
  var index = head.startIndex
  while index < head.endIndex {
    if head[index] == 13, index + 1 < head.endIndex, head[index + 1] == 10 {
      lines.append(head[start..<index])
      index += 2
      start = index
    } else {
      index += 1
    }
  }
  lines.append(head[start..<head.endIndex])
  return lines
}

private func isTokenByte(_ byte: UInt8) -> Bool {
  switch byte {
  case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): true
  default: Array("!#$%&'*+-.^_`|~".utf8).contains(byte)
  }
}

extension String {
  fileprivate func trimmingSpaces() -> String {
    var text = Substring(self)
    while let first = text.first, first == " " || first == "\t" { text = text.dropFirst() }
    while let last = text.last, last == " " || last == "\t" { text = text.dropLast() }
    return String(text)
  }
}

/// Records every request head the decoder produced, in order.
final class HeadRecorder: ChannelInboundHandler {
  typealias InboundIn = HTTPServerRequestPart
  typealias InboundOut = HTTPServerRequestPart
  var heads: [HTTPRequestHead] = []

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    if case .head(let head) = Self.unwrapInboundIn(data) { self.heads.append(head) }
    context.fireChannelRead(data)
  }
}

/// The HTTP-mode check service over a policy that exercises every kind of answer, and the
/// default HTTP/1.1 limits.
final class Service: Sendable {
  static let shared = Service()
  let check: HTTPModeCheckService
  let http1 = HTTP1ConnectionSettings(headTimeout: .seconds(10), bodyTimeout: .seconds(30), maxPipelinedRequests: 16)
  // Deadline lines would only be noise: no time passes in the target.
  let logger = Logger(label: "fuzz", factory: { _ in SwiftLogNoOpLogHandler() })

  init() {
    let yaml = """
      client_address: {from: header, header: x-real-ip}
      headers:
        x-static: static
        x-hello: {template: "Hello {authority} {header:x-in} {path} {method}"}
      problem_types:
        "429": {type: "https://errors.example/rate-limited", title: "Too many requests"}
      rules:
        - match: {path_prefix: /redirect/}
          redirect: {status: 302, location: "https://other.example{path}"}
        - match: {path_prefix: /deny/}
          deny: {status: 403, detail: "no {path} for {header:x-in}"}
        - match: {path_prefix: /limited/}
          rate_limit: {key: "{authority}", requests_per_second: 1, burst: 2}
        - match: {client_cidr: [203.0.113.0/24]}
          redirect: {status: 307, location: "https://{host}/moved{path}"}
      """
    let config: AugmenterConfig
    do {
      config = try ConfigLoader.parse(yaml, environment: [:])
    } catch {
      fatalError("the fuzzing policy does not load: \(error)")
    }
    self.check = HTTPModeCheckService(
      decider: Decider(config: config, registry: ProviderRegistry(config: config)), clock: SystemClock())
  }
}

@main enum FuzzHTTP1PipelineMain {
  static func main() {
    // Made before the first input: LeakSanitizer cannot see pointers Swift keeps in the spare
    // bits of a multi-payload enum (the compiled policy's `Template`s in `RuleOutcome`-like
    // enums), so the service's one-time allocations, made during an input, were reported as
    // that input's leak (352 bytes, once). Per-input leaks are still caught.
    _ = Service.shared
    runFuzzer(fuzzHTTP1Pipeline)
  }
}
