// Rule matching: each kind of condition, IPv4/IPv6 ranges, host globs, client addresses.

import Testing

@testable import AugmenterCore

@Suite("Rule matching")
struct MatchTests {
  func request(
    method: String = "GET", path: String = "/", authority: String = "api.example.com",
    headers: [String: String] = [:], source: String? = nil, context: [String: String] = [:]
  ) -> CheckRequestAttributes {
    CheckRequestAttributes(
      method: method, path: path, authority: authority, scheme: "http", headers: RequestHeaders(headers),
      sourceAddress: source, contextExtensions: context)
  }

  @Test("host globs: exact, leading star, star in the middle, any; case-insensitive; port ignored unless written")
  func hostGlobs() {
    let cases: [(String, String, Bool)] = [
      ("api.example.com", "api.example.com", true),
      ("api.example.com", "API.Example.COM:8443", true),
      ("api.example.com", "api.example.org", false),
      ("*.example.com", "a.example.com", true),
      ("*.example.com", "a.b.example.com", true),
      ("*.example.com", "example.com", false),
      ("*.example.com", "badexample.com", false),
      ("api.*.com", "api.eu.com", true),
      ("api.*.com", "api.eu.org", false),
      ("*", "anything:1", true),
      ("api.example.com:8443", "api.example.com:8443", true),
      ("api.example.com:8443", "api.example.com", false),
      ("api.example.com:*", "api.example.com:9", true),
      ("[::1]", "[::1]:8080", true),
      ("[::1]:8080", "[::1]:8080", true),
      ("a*b*c", "aXXbYYc", true),
      ("a*b*c", "aXXbYY", false),
    ]
    for (pattern, authority, expected) in cases {
      #expect(HostGlob(pattern).matches(authority) == expected, "\(pattern) vs \(authority)")
    }
  }

  @Test("authority list: any may match")
  func authorityList() {
    let match = RuleMatch(authorities: [HostGlob("a.example"), HostGlob("*.b.example")])
    #expect(match.matches(request(authority: "a.example"), clientAddress: nil))
    #expect(match.matches(request(authority: "x.b.example:80"), clientAddress: nil))
    #expect(!match.matches(request(authority: "c.example"), clientAddress: nil))
  }

  @Test("path prefix and exact ignore the query; either kind may match")
  func paths() {
    let prefix = RuleMatch(pathPrefixes: ["/api/"])
    #expect(prefix.matches(request(path: "/api/v1?x=1"), clientAddress: nil))
    #expect(!prefix.matches(request(path: "/apix"), clientAddress: nil))
    #expect(!prefix.matches(request(path: "/?/api/"), clientAddress: nil))
    let exact = RuleMatch(exactPaths: ["/healthz"])
    #expect(exact.matches(request(path: "/healthz"), clientAddress: nil))
    #expect(exact.matches(request(path: "/healthz?verbose=1"), clientAddress: nil))
    #expect(!exact.matches(request(path: "/healthz/x"), clientAddress: nil))
    let both = RuleMatch(pathPrefixes: ["/a/"], exactPaths: ["/b"])
    #expect(both.matches(request(path: "/a/1"), clientAddress: nil))
    #expect(both.matches(request(path: "/b"), clientAddress: nil))
    #expect(!both.matches(request(path: "/c"), clientAddress: nil))
  }

  @Test("methods: any listed")
  func methods() {
    let match = RuleMatch(methods: ["GET", "HEAD"])
    #expect(match.matches(request(method: "HEAD"), clientAddress: nil))
    #expect(!match.matches(request(method: "POST"), clientAddress: nil))
  }

  @Test("header present and equals; context extension equals; all conditions must hold")
  func headersAndContext() {
    let match = RuleMatch(
      headersPresent: ["x-debug"], headersEqual: [ExpectedValue(name: "x-env", value: "prod")],
      contextExtensions: [ExpectedValue(name: "tenant", value: "a")])
    let good = request(headers: ["x-debug": "", "x-env": "prod"], context: ["tenant": "a", "other": "x"])
    #expect(match.matches(good, clientAddress: nil))
    #expect(!match.matches(request(headers: ["x-env": "prod"], context: ["tenant": "a"]), clientAddress: nil))
    #expect(!match.matches(request(headers: ["x-debug": "1", "x-env": "Prod"], context: ["tenant": "a"]), clientAddress: nil))
    #expect(!match.matches(request(headers: ["x-debug": "1", "x-env": "prod"], context: ["tenant": "b"]), clientAddress: nil))
    #expect(!match.matches(request(headers: ["x-debug": "1", "x-env": "prod"]), clientAddress: nil))
  }

  @Test("no condition matches everything")
  func empty() {
    #expect(RuleMatch().matchesEverything)
    #expect(RuleMatch().matches(request(), clientAddress: nil))
    #expect(!RuleMatch(methods: ["GET"]).matchesEverything)
  }

  @Test("IPv4 and IPv6 ranges; a bare address is a range of one; IPv4 matches its mapped IPv6 form")
  func cidr() throws {
    func ip(_ text: String) throws -> IPAddress { try #require(IPAddress.parseLenient(text)) }
    let v4 = try CIDR("10.0.0.0/8")
    #expect(v4.contains(try ip("10.255.1.2")))
    #expect(!v4.contains(try ip("11.0.0.1")))
    #expect(v4.contains(try ip("::ffff:10.1.2.3")))
    let one = try CIDR("203.0.113.7")
    #expect(one.contains(try ip("203.0.113.7")))
    #expect(!one.contains(try ip("203.0.113.8")))
    let v6 = try CIDR("2001:db8::/32")
    #expect(v6.contains(try ip("2001:db8:ffff::1")))
    #expect(v6.contains(try ip("[2001:DB8::1]:443")))
    #expect(!v6.contains(try ip("2001:db9::1")))
    #expect(!v6.contains(try ip("10.0.0.1")))
    let odd = try CIDR("2001:db8:0:0:8000::/65")
    #expect(odd.contains(try ip("2001:db8::8000:0:0:1")))
    #expect(!odd.contains(try ip("2001:db8::7fff:0:0:1")))
    #expect(try CIDR("0.0.0.0/0").contains(try ip("192.0.2.1")))
    #expect(!(try CIDR("0.0.0.0/0")).contains(try ip("2001:db8::1")))
    #expect(try CIDR("::/0").contains(try ip("2001:db8::1")))
    #expect(try CIDR("::1/128").contains(try ip("::1")))
  }

  @Test(
    "bad ranges are refused with a reason",
    arguments: [
      ("10.0.0.0/33", "0 to 32"), ("2001:db8::/129", "0 to 128"), ("10.0.0.1/8", "did you mean 10.0.0.0/8"),
      ("300.1.1.1", "expected an IPv4 or IPv6"), ("10.0.0.0/x", "prefix length"), ("example.com", "expected an IPv4"),
      ("10.0.0.0/-1", "prefix length"), ("2001:db8::1/32", "host bits"),
    ])
  func badCIDR(text: String, fragment: String) {
    #expect {
      _ = try CIDR(text)
    } throws: { error in
      (error as? CIDRError)?.message.contains(fragment) == true
    }
  }

  @Test("client address from the peer, x-real-ip, or x-forwarded-for with trusted hops")
  func clientAddress() {
    let request = request(
      headers: ["x-real-ip": " 203.0.113.7 ", "x-forwarded-for": "198.51.100.1, 203.0.113.9,10.0.0.2"], source: "127.0.0.1")
    #expect(ClientAddressSource.peer.address(of: request) == "127.0.0.1")
    #expect(ClientAddressSource.header(name: "x-real-ip", trustedHops: 1).address(of: request) == "203.0.113.7")
    let xff = { (hops: Int) in ClientAddressSource.header(name: "x-forwarded-for", trustedHops: hops).address(of: request) }
    #expect(xff(1) == "10.0.0.2")
    #expect(xff(2) == "203.0.113.9")
    #expect(xff(3) == "198.51.100.1")
    #expect(xff(9) == "198.51.100.1", "fewer entries than hops: the leftmost")
    #expect(ClientAddressSource.header(name: "x-none", trustedHops: 1).address(of: request) == nil)
    #expect(ClientAddressSource.peer.address(of: self.request()) == nil)
  }

  @Test("client_cidr: the address must be known and in a range")
  func clientCIDRMatch() throws {
    let match = RuleMatch(clientCIDRs: [try CIDR("203.0.113.0/24"), try CIDR("2001:db8::/32")])
    #expect(match.matches(request(), clientAddress: IPAddress.parseLenient("203.0.113.7")))
    #expect(match.matches(request(), clientAddress: IPAddress.parseLenient("2001:db8::5")))
    #expect(!match.matches(request(), clientAddress: IPAddress.parseLenient("198.51.100.1")))
    #expect(!match.matches(request(), clientAddress: nil))
  }

  @Test("lenient address parsing: ports, brackets, zones, spaces; garbage is nil")
  func lenientParsing() {
    #expect(IPAddress.parseLenient("192.0.2.1:5678")?.description == "192.0.2.1")
    #expect(IPAddress.parseLenient("[2001:db8::1]:443") == IPAddress.parse("2001:db8::1"))
    #expect(IPAddress.parseLenient("fe80::1%eth0") == IPAddress.parse("fe80::1"))
    #expect(IPAddress.parseLenient("  10.0.0.1 ")?.isIPv4 == true)
    #expect(IPAddress.parseLenient("unknown") == nil)
    #expect(IPAddress.parseLenient("1.2.3") == nil)
    #expect(IPAddress.parseLenient("") == nil)
  }
}
