// Provider answers: accepted whole or refused whole, with messages that never hold a value.

import AugmenterCore
import TestSupport
import Testing

@Suite("Provider answer validation")
struct ProviderAnswerValidatorTests {
  /// The value every refused row carries somewhere, which must never show in the error.
  static let secret = "S3CR3T-t0ken"

  @Test("a valid answer: names lower-cased, values trimmed, order kept")
  func accepts() throws {
    let body = #"{"X-Token": "  S3CR3T-t0ken ", "x-b": "b\tc", "X-Unicode": "caf\u00e9 \ud83d\ude00", "x-empty": ""}"#
    let headers = try ProviderAnswerValidator.validate(.json(body)).get()
    #expect(
      headers == [
        HeaderField(name: "x-token", value: Self.secret), HeaderField(name: "x-b", value: "b\tc"),
        HeaderField(name: "x-unicode", value: "café 😀"), HeaderField(name: "x-empty", value: ""),
      ])
  }

  @Test("an empty object is zero headers")
  func emptyObject() throws {
    #expect(try ProviderAnswerValidator.validate(.json(" { } \n")).get().isEmpty)
  }

  @Test("JSON escapes are decoded, and the token characters are all accepted")
  func escapesAndTokens() throws {
    let headers = try ProviderAnswerValidator.validate(.json(#"{"a!#$%&'*+-.^_`|~0Z": "q\"\\\/\u0041"}"#)).get()
    #expect(headers == [HeaderField(name: "a!#$%&'*+-.^_`|~0z", value: "q\"\\/A")])
  }

  @Test("exactly at the limits is accepted")
  func atLimits() throws {
    let name = String(repeating: "n", count: 256)
    let value = String(repeating: "v", count: 8192)
    #expect(try ProviderAnswerValidator.validate(.json("{\"\(name)\": \"\(value)\"}")).get().count == 1)
    let hundred = (0..<100).map { "\"x-\($0)\": \"v\"" }.joined(separator: ",")
    #expect(try ProviderAnswerValidator.validate(.json("{\(hundred)}")).get().count == 100)
    let body = "{\"a\": \"\(String(repeating: "v", count: 100))\"}"
    let limits = ProviderAnswerLimits(maxBodyBytes: body.utf8.count)
    #expect(try ProviderAnswerValidator.validate(.json(body), limits: limits).get().count == 1)
  }

  struct Refusal: Sendable, CustomTestStringConvertible {
    var name: String
    var answer: FetchedAnswer
    var limits = ProviderAnswerLimits.default
    /// The exact description expected.
    var description: String
    var header: String?
    var testDescription: String { name }
  }

  static let refusals: [Refusal] = [
    Refusal(name: "status not 200", answer: .json(#"{"x-a": "S3CR3T-t0ken"}"#, status: 500), description: "status 500, expected 200"),
    Refusal(name: "status 204", answer: .json("", status: 204), description: "status 204, expected 200"),
    Refusal(
      name: "body too large", answer: .json(#"{"x-a": "S3CR3T-t0ken"}"#), limits: ProviderAnswerLimits(maxBodyBytes: 10),
      description: "body is 23 bytes, more than max_answer_bytes 10"),
    Refusal(
      name: "body not UTF-8", answer: FetchedAnswer(status: 200, body: Array(#"{"x-a": "S3CR3T-t0ken"#.utf8) + [0xFF, 0x22, 0x7D]),
      description: "body is not valid UTF-8"),
    Refusal(name: "body empty", answer: .json(""), description: "body is not valid JSON: the body is empty"),
    Refusal(
      name: "body not JSON", answer: .json(#"{"x-a": S3CR3T-t0ken}"#),
      description: "body is not valid JSON: unexpected character at byte 8"),
    Refusal(
      name: "truncated JSON", answer: .json(#"{"x-a": "S3CR3T-t0ken""#),
      description: "body is not valid JSON: unexpected end of the body"),
    Refusal(
      name: "trailing data", answer: .json(#"{"x-a": "S3CR3T-t0ken"} x"#),
      description: "body is not valid JSON: unexpected data after the JSON object at byte 24"),
    Refusal(
      name: "raw control character in a string", answer: .json("{\"x-a\": \"S3CR3T-t0ken\u{1}\"}"),
      description: "body is not valid JSON: control character inside a string at byte 21"),
    Refusal(
      name: "bad escape", answer: .json(#"{"x-a": "S3CR3T-t0ken\q"}"#),
      description: "body is not valid JSON: invalid escape at byte 21"),
    Refusal(
      name: "lone surrogate", answer: .json(#"{"x-a": "S3CR3T-t0ken\udc00"}"#),
      description: "body is not valid JSON: unpaired surrogate escape at byte 21"),
    Refusal(name: "top level array", answer: .json(#"["S3CR3T-t0ken"]"#), description: "top level is an array, expected an object"),
    Refusal(name: "top level string", answer: .json(#""S3CR3T-t0ken""#), description: "top level is a string, expected an object"),
    Refusal(
      name: "value a number", answer: .json(#"{"x-a": "S3CR3T-t0ken", "x-b": 12}"#),
      description: #"value for "x-b" is not a string (a number)"#, header: "x-b"),
    Refusal(
      name: "value an object", answer: .json(#"{"x-b": {"v": "S3CR3T-t0ken"}}"#),
      description: #"value for "x-b" is not a string (an object)"#, header: "x-b"),
    Refusal(
      name: "value null", answer: .json(#"{"x-a": "S3CR3T-t0ken", "x-b": null}"#),
      description: #"value for "x-b" is not a string (null)"#, header: "x-b"),
    Refusal(
      name: "name empty", answer: .json(#"{"": "S3CR3T-t0ken"}"#), description: #"header "": name is empty"#, header: ""),
    Refusal(
      name: "name not a token", answer: .json(#"{"x a": "S3CR3T-t0ken"}"#),
      description: #"header "x a": name has characters outside the RFC 9110 token set"#, header: "x a"),
    Refusal(
      name: "name with CR LF", answer: .json(#"{"x\r\na": "S3CR3T-t0ken"}"#),
      description: #"header "x\u{d}\u{a}a": name has characters outside the RFC 9110 token set"#, header: "x\r\na"),
    Refusal(
      name: "name too long", answer: .json("{\"\(String(repeating: "n", count: 257))\": \"S3CR3T-t0ken\"}"),
      description: "header \"\(String(repeating: "n", count: 64))…\": name is longer than 256 bytes",
      header: String(repeating: "n", count: 257)),
    Refusal(
      name: "pseudo-header", answer: .json(#"{":path": "S3CR3T-t0ken"}"#),
      description: #"header ":path": pseudo-header names are not allowed"#, header: ":path"),
    Refusal(
      name: "host", answer: .json(#"{"Host": "S3CR3T-t0ken"}"#),
      description: #"header "Host": name is reserved (host, content-length and hop-by-hop headers cannot be set)"#,
      header: "Host"),
    Refusal(
      name: "hop-by-hop", answer: .json(#"{"transfer-encoding": "S3CR3T-t0ken"}"#),
      description: #"header "transfer-encoding": name is reserved (host, content-length and hop-by-hop headers cannot be set)"#,
      header: "transfer-encoding"),
    Refusal(
      name: "content-length", answer: .json(#"{"Content-Length": "12"}"#),
      description: #"header "Content-Length": name is reserved (host, content-length and hop-by-hop headers cannot be set)"#,
      header: "Content-Length"),
    Refusal(
      name: "names equal ignoring case", answer: .json(#"{"X-A": "S3CR3T-t0ken", "x-a": "S3CR3T-t0ken"}"#),
      description: #"header "x-a": appears more than once (names are case-insensitive)"#, header: "x-a"),
    Refusal(
      name: "names exactly equal", answer: .json(#"{"x-a": "S3CR3T-t0ken", "x-a": "other"}"#),
      description: #"header "x-a": appears more than once (names are case-insensitive)"#, header: "x-a"),
    Refusal(
      name: "value with CR", answer: .json(#"{"x-a": "S3CR3T-t0ken\rinjected: 1"}"#),
      description: #"header "x-a": value contains CR or LF"#, header: "x-a"),
    Refusal(
      name: "value with LF", answer: .json(#"{"x-a": "S3CR3T-t0ken\n"}"#),
      description: #"header "x-a": value contains CR or LF"#, header: "x-a"),
    Refusal(
      name: "value with NUL", answer: .json(#"{"x-a": "S3CR3T-t0ken\u0000"}"#),
      description: #"header "x-a": value contains NUL"#, header: "x-a"),
    Refusal(
      name: "value with another control character", answer: .json(#"{"x-a": "S3CR3T-t0ken\u001b[31m"}"#),
      description: #"header "x-a": value contains a control character"#, header: "x-a"),
    Refusal(
      name: "value with DEL", answer: .json(#"{"x-a": "S3CR3T-t0ken\u007f"}"#),
      description: #"header "x-a": value contains a control character"#, header: "x-a"),
    Refusal(
      name: "value too long", answer: .json("{\"x-a\": \"S3CR3T-t0ken\(String(repeating: "v", count: 8192))\"}"),
      description: #"header "x-a": value is longer than 8192 bytes"#, header: "x-a"),
    Refusal(
      name: "too many headers", answer: .json("{" + (0...100).map { "\"x-\($0)\": \"S3CR3T-t0ken\"" }.joined(separator: ",") + "}"),
      description: "101 headers, at most 100 allowed"),
    Refusal(
      name: "nesting too deep", answer: .json("{\"x-a\": " + String(repeating: "[", count: 40) + String(repeating: "]", count: 40) + "}"),
      description: "body is not valid JSON: nested deeper than 32 levels"),
  ]

  @Test("each rule refuses the whole answer with a precise message and no value", arguments: refusals)
  func refuses(_ refusal: Refusal) {
    switch ProviderAnswerValidator.validate(refusal.answer, limits: refusal.limits) {
    case .success(let headers):
      Issue.record("accepted \(headers.count) headers")
    case .failure(let error):
      #expect(error.description == refusal.description)
      #expect(error.headerName == refusal.header)
      #expect(!error.description.contains(Self.secret))
      #expect(!error.description.contains("injected"))
    }
  }

  @Test("one bad entry among good ones refuses everything")
  func allOrNothing() {
    let result = ProviderAnswerValidator.validate(.json(#"{"x-good": "1", "x-also-good": "2", "x-bad": "3\n"}"#))
    #expect(throws: ProviderAnswerError.self) { try result.get() }
  }

  @Test("the digest depends on names and values, not on order")
  func digest() {
    let wall = ManualClock().wallNow()
    func digest(_ headers: [HeaderField]) -> String {
      HeaderSnapshot(headers: headers, fetchedAt: .zero, fetchedAtWall: wall, ttl: .seconds(1), maxStale: .zero).digest
    }
    let a = HeaderField(name: "x-a", value: "1")
    let b = HeaderField(name: "x-b", value: "2")
    #expect(digest([a, b]) == digest([b, a]))
    #expect(digest([a, b]) != digest([a, HeaderField(name: "x-b", value: "3")]))
    #expect(digest([a]) != digest([HeaderField(name: "x-a1", value: "")]))
    #expect(digest([a, b]).count == 16)
    #expect(!digest([HeaderField(name: "x-a", value: Self.secret)]).contains(Self.secret))
  }
}
