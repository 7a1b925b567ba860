//===----------------------------------------------------------------------===//
// The `token_exchange` kind's grant (RFC 8693 §2.1): its parameters, the subject token read
// from its file on every fetch, and errors that never quote it.
//===----------------------------------------------------------------------===//

import AugmenterCore
import Foundation
import Testing

@testable import Providers

@Suite struct TokenExchangeFetcherTests {
  func subjectFile(_ content: String) throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("augmenter-subject-\(UUID().uuidString)").path
    try Data(content.utf8).write(to: URL(fileURLWithPath: path))
    return path
  }

  func parameters(_ provider: ProviderConfig) throws -> [String: String] {
    Dictionary(try TokenExchangeFetcher.grant(for: provider).map { ($0.name, $0.value) }, uniquingKeysWith: { _, last in last })
  }

  @Test func grantParametersWithDefaultsAndEveryOption() throws {
    let path = try subjectFile("subject-A\n")
    var provider = ProviderConfig(name: "sts", kind: .tokenExchange, url: "", subjectTokenFile: path)
    #expect(
      try parameters(provider) == [
        "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange", "subject_token": "subject-A",
        "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
      ])
    provider.requestedTokenType = "urn:ietf:params:oauth:token-type:access_token"
    provider.subjectTokenType = "urn:ietf:params:oauth:token-type:id_token"
    provider.audience = "https://api.test"
    provider.scope = "read"
    provider.resource = "https://api.test/"
    let all = try parameters(provider)
    #expect(all["requested_token_type"] == "urn:ietf:params:oauth:token-type:access_token")
    #expect(all["subject_token_type"] == "urn:ietf:params:oauth:token-type:id_token")
    #expect(all["audience"] == "https://api.test" && all["scope"] == "read" && all["resource"] == "https://api.test/")
  }

  @Test func subjectTokenIsReadOnEveryFetch() throws {
    let path = try subjectFile("subject-A")
    let provider = ProviderConfig(name: "sts", kind: .tokenExchange, url: "", subjectTokenFile: path)
    #expect(try parameters(provider)["subject_token"] == "subject-A")
    try Data("subject-B\n".utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
    #expect(try parameters(provider)["subject_token"] == "subject-B")
  }

  @Test func errorsNameTheFileNeverTheToken() throws {
    let missing = ProviderConfig(name: "sts", kind: .tokenExchange, url: "", subjectTokenFile: "/nonexistent/augmenter/subject")
    #expect(throws: ProviderFetchError.self) { try TokenExchangeFetcher.grant(for: missing) }
    do {
      _ = try TokenExchangeFetcher.grant(for: missing)
    } catch {
      #expect("\(error)".hasPrefix("cannot read subject_token_file /nonexistent/augmenter/subject"))
    }
    let twoLines = try subjectFile("SUBJECT-SECRET\nmore")
    do {
      _ = try TokenExchangeFetcher.grant(for: ProviderConfig(name: "sts", kind: .tokenExchange, url: "", subjectTokenFile: twoLines))
      Issue.record("a two-line subject token was sent")
    } catch {
      #expect("\(error)" == "subject_token_file \(twoLines) is empty or holds more than one line")
      #expect(!"\(error)".contains("SUBJECT-SECRET"))
    }
  }

  /// Client authentication is one piece of code for every grant: the same secret file, read
  /// now, for client credentials and token exchange alike.
  @Test func clientAuthenticationIsSharedWithClientCredentials() throws {
    let secret = try subjectFile("s3cret")
    for kind in [ProviderKind.oauth2ClientCredentials, .tokenExchange] {
      let post = try OAuth2ClientAuthentication.make(
        for: ProviderConfig(name: "p", kind: kind, url: "", clientID: "augmenter", clientSecretFile: secret, clientAuth: .clientSecretPost))
      #expect(post.authorization == nil)
      #expect(post.parameters.map(\.name) == ["client_id", "client_secret"])
      let basic = try OAuth2ClientAuthentication.make(
        for: ProviderConfig(name: "p", kind: kind, url: "", clientID: "a b", clientSecretFile: secret))
      #expect(basic.authorization == "Basic " + Data("a%20b:s3cret".utf8).base64EncodedString())
      #expect(basic.parameters.isEmpty)
    }
  }
}
