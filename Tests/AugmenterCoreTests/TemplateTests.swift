// Templates: syntax, every placeholder, escapes, errors, and hostile request values.

import Testing

@testable import AugmenterCore

@Suite("Templates")
struct TemplateTests {
  static let request = CheckRequestAttributes(
    method: "POST", path: "/orders/7?x=1", authority: "api.example.com:8443", scheme: "https", requestID: "req-9",
    headers: RequestHeaders(["x-foo": "bar", "x-forwarded-for": "198.51.100.1, 203.0.113.9"]),
    sourceAddress: "192.0.2.10", destinationAddress: "10.0.0.5", contextExtensions: ["tenant": "acme"])

  func render(_ text: String, _ request: CheckRequestAttributes = request, client: String? = "192.0.2.10") throws -> String {
    try Template(text).render(request, clientAddress: client) { name, header in
      name == "sidecar" && header == "authorization" ? "Bearer t0k" : nil
    }
  }

  @Test("the seed's x-hello: Hello world from {authority}")
  func helloWorld() throws {
    #expect(try render("Hello world from {authority}") == "Hello world from api.example.com:8443")
  }

  @Test("every placeholder")
  func everyPlaceholder() throws {
    #expect(try render("{method} {path} {scheme}") == "POST /orders/7?x=1 https")
    #expect(try render("{host}") == "api.example.com")
    #expect(try render("{request_id}|{client_address}|{destination}") == "req-9|192.0.2.10|10.0.0.5")
    #expect(try render("{header:X-Foo}/{context:tenant}") == "bar/acme")
    #expect(try render("{provider:sidecar:Authorization}") == "Bearer t0k")
    #expect(try render("https://other.example{path}") == "https://other.example/orders/7?x=1")
  }

  @Test("missing values render as nothing")
  func missingValues() throws {
    let bare = CheckRequestAttributes(method: "GET", path: "/", authority: "a", scheme: "http")
    #expect(
      try render("[{header:x-none}][{context:none}][{request_id}][{destination}][{client_address}]", bare, client: nil) == "[][][][][]")
    #expect(try render("{provider:other:x}") == "")
  }

  @Test("{{ and }} are literal braces; a literal-only template is literal")
  func escapes() throws {
    #expect(try render("{{method}} is {method}") == "{method} is POST")
    #expect(try render("}}{{") == "}{")
    #expect(try Template("plain {{text}}").isLiteral)
    #expect(try Template("plain {{text}}").literalText == "plain {text}")
    #expect(try !Template("{method}").isLiteral)
  }

  @Test(
    "syntax errors name the problem and the position",
    arguments: [
      ("Hello {authority", "unclosed \"{\" at character 7"),
      ("a } b", "a single \"}\" at character 3"),
      ("{}", "empty placeholder"),
      ("{nope}", "unknown placeholder {nope} at character 1"),
      ("{header:}", "expected {header:NAME}"),
      ("{header:bad name}", "token"),
      ("{context:}", "expected {context:KEY}"),
      ("{provider:sidecar}", "expected {provider:PROVIDER:HEADER}"),
      ("{a{b}", "unclosed"),
    ])
  func syntaxErrors(text: String, fragment: String) {
    #expect {
      _ = try Template(text)
    } throws: { error in
      (error as? TemplateError)?.message.contains(fragment) == true
    }
  }

  @Test("provider references are listed once, in order")
  func providerNames() throws {
    let template = try Template("{provider:b:x}{provider:a:y}{provider:b:z}")
    #expect(template.providerNames == ["b", "a"])
  }

  @Test("hostile input: CR, LF, NUL and other controls from the request never reach the value")
  func hostileInput() throws {
    let hostile = "evil\r\nx-injected: 1\0\u{7F}\u{1B}[31m\tend"
    let request = CheckRequestAttributes(
      method: "GET\r\n", path: "/a\nb", authority: "h\r\nost", scheme: "http", requestID: "id\r\nx: y",
      headers: RequestHeaders(["x-foo": hostile]), contextExtensions: ["k": "v\r\n"])
    let rendered = try render(
      "v={header:x-foo} m={method} p={path} a={authority} i={request_id} c={context:k}", request, client: "1.2.3.4\r\n")
    #expect(rendered == "v=evilx-injected: 1[31mend m=GET p=/ab a=host i=idx: y c=v")
    #expect(HeaderRules.valueProblem(rendered.utf8, maxBytes: Template.maxRenderedBytes) == nil)
    #expect(!rendered.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F })
    #expect(try render("{client_address}", request, client: "1.2.3.4\r\n") == "1.2.3.4")
  }

  @Test("a huge request value is cut to the header-value bound, on a character boundary")
  func longValuesAreCut() throws {
    let huge = String(repeating: "é", count: 10_000)  // 2 bytes each
    let request = CheckRequestAttributes(method: "GET", path: "/", authority: "a", scheme: "http", headers: RequestHeaders(["x": huge]))
    let rendered = try render("{header:x}", request)
    #expect(rendered.utf8.count <= Template.maxRenderedBytes)
    #expect(rendered.utf8.count >= Template.maxRenderedBytes - 1)
    #expect(rendered.unicodeScalars.allSatisfy { $0 == "é" })
  }

  @Test("surrounding spaces of the result are trimmed")
  func trimmed() throws {
    let request = CheckRequestAttributes(method: "GET", path: "/", authority: "a", scheme: "http", headers: RequestHeaders(["x": "  v  "]))
    #expect(try render("{header:x}", request) == "v")
  }

  @Test("header_map lists: several values of one header are joined with a comma, as Envoy's map does")
  func duplicateHeadersJoin() throws {
    let request = CheckRequestAttributes(
      method: "GET", path: "/", authority: "a", scheme: "http",
      headers: RequestHeaders(fields: [
        HeaderField(name: "x-a", value: "1"), HeaderField(name: "x-b", value: "b"), HeaderField(name: "x-a", value: "2"),
      ]))
    #expect(try render("{header:x-a}", request) == "1,2")
    #expect(request.headers.contains("x-b"))
    #expect(!request.headers.contains("x-c"))
  }
}
