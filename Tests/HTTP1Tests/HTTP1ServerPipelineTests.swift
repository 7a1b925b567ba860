//===----------------------------------------------------------------------===//
// The HTTP/1.1 server handlers on an EmbeddedChannel: parse errors, deadlines, pipelining, quiesce.
//===----------------------------------------------------------------------===//

import Foundation
import HTTP1
import NIOCore
import NIOEmbedded
import NIOHTTP1
import TestSupport
import Testing

@Suite struct HTTP1ServerPipelineTests {
  @Test func pipelinedRequestsAreAnsweredInOrder() throws {
    let connection = try EmbeddedHTTP1Connection(HTTP1URIEchoHandler())
    try connection.send("GET /a HTTP/1.1\r\nhost: x\r\n\r\nGET /b HTTP/1.1\r\nhost: x\r\n\r\nGET /c HTTP/1.1\r\nhost: x\r\n\r\n")
    let text = try connection.output()
    let bodies = text.components(separatedBy: "\r\n\r\n").dropFirst().map { String($0.prefix(2)) }
    #expect(bodies == ["/a", "/b", "/c"], "\(text)")
    #expect(connection.isOpen)
  }

  @Test func aMalformedRequestGets400AndTheConnectionCloses() throws {
    let connection = try EmbeddedHTTP1Connection(HTTP1URIEchoHandler())
    try connection.send("GET /a HTTP/1.1\r\nbad header line\r\n\r\n")
    let text = try connection.output()
    #expect(text.hasPrefix("HTTP/1.1 400 Bad Request\r\n"), "\(text)")
    #expect(text.lowercased().contains("connection: close"))
    #expect(!connection.isOpen)
  }

  @Test func headersPastTheLimitGet431() throws {
    let connection = try EmbeddedHTTP1Connection(HTTP1URIEchoHandler())
    try connection.send("GET /a HTTP/1.1\r\nx-big: \(String(repeating: "v", count: 20 * 1024))\r\n\r\n")
    let text = try connection.output()
    #expect(text.hasPrefix("HTTP/1.1 431 Request Header Fields Too Large\r\n"), "\(text.prefix(200))")
    #expect(!connection.isOpen)
  }

  @Test func aHeadThatNeverEndsGets408AtTheHeadDeadline() throws {
    let connection = try EmbeddedHTTP1Connection(
      HTTP1URIEchoHandler(),
      settings: HTTP1ConnectionSettings(headTimeout: .seconds(2), bodyTimeout: .seconds(30), maxPipelinedRequests: 16))
    try connection.send("GET /a HTTP/1.1\r\nhost: x\r\n")
    connection.channel.embeddedEventLoop.advanceTime(by: .seconds(1))
    #expect(try connection.output().isEmpty)
    connection.channel.embeddedEventLoop.advanceTime(by: .seconds(2))
    let text = try connection.output()
    #expect(text.hasPrefix("HTTP/1.1 408 Request Timeout\r\n"), "\(text)")
    connection.channel.embeddedEventLoop.advanceTime(by: .seconds(2))
    #expect(!connection.isOpen)
  }

  @Test func quiesceClosesAnIdleConnectionAtOnce() throws {
    let connection = try EmbeddedHTTP1Connection(HTTP1URIEchoHandler())
    try connection.send("GET /a HTTP/1.1\r\nhost: x\r\n\r\n")
    _ = try connection.output()
    connection.quiesce()
    #expect(!connection.isOpen)
  }

  @Test func quiesceLetsARequestInProgressFinishWithConnectionClose() throws {
    let connection = try EmbeddedHTTP1Connection(HTTP1URIEchoHandler())
    try connection.send("POST /a HTTP/1.1\r\nhost: x\r\ncontent-length: 4\r\n\r\nab")
    connection.quiesce()
    #expect(connection.isOpen, "closed with a request half received")
    try connection.send("cd")
    let text = try connection.output()
    #expect(text.hasPrefix("HTTP/1.1 200 OK\r\n"), "\(text)")
    #expect(text.lowercased().contains("connection: close"), "\(text)")
    #expect(!connection.isOpen)
  }
}
