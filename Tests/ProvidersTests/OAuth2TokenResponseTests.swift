//===----------------------------------------------------------------------===//
// Token endpoint answers (RFC 6749 §5.1, §5.2) and the form encoding of token requests.
//===----------------------------------------------------------------------===//

import AugmenterCore
import Testing

@testable import Providers

@Suite struct OAuth2TokenResponseTests {
  private func parse(_ status: Int, _ body: String) -> Result<OAuth2TokenResponse.Token, OAuth2TokenResponse.Problem> {
    OAuth2TokenResponse.parse(status: status, body: Array(body.utf8))
  }

  @Test func bearerTokenWithLifetime() throws {
    let token = try parse(200, #"{"access_token":"t0k3n","token_type":"Bearer","expires_in":300,"scope":"a"}"#).get()
    #expect(token == OAuth2TokenResponse.Token(accessToken: "t0k3n", expiresIn: .seconds(300)))
    // Case-insensitive type (RFC 6749 §7.1), expires_in as a string, no lifetime at all.
    #expect(try parse(200, #"{"access_token":"t","token_type":"bearer","expires_in":"60"}"#).get().expiresIn == .seconds(60))
    #expect(try parse(200, #"{"access_token":"t","token_type":"BEARER"}"#).get().expiresIn == nil)
  }

  @Test(
    arguments: [
      (#"{"token_type":"Bearer","expires_in":60}"#, "token answer refused: no access_token"),
      (#"{"access_token":"","token_type":"Bearer"}"#, "token answer refused: no access_token"),
      (#"{"access_token":"t","expires_in":60}"#, "token answer refused: no token_type (expected Bearer)"),
      (#"{"access_token":"t","token_type":"mac"}"#, #"token answer refused: token_type is "mac", expected Bearer"#),
      (
        #"{"access_token":"t","token_type":"Bearer","expires_in":0}"#,
        "token answer refused: expires_in is 0.0, expected a positive number of seconds"
      ),
      (
        #"{"access_token":"t","token_type":"Bearer","expires_in":-5}"#,
        "token answer refused: expires_in is -5.0, expected a positive number of seconds"
      ),
      (#"{"access_token":"t","token_type":"Bearer","expires_in":"soon"}"#, "token answer refused: expires_in is not a number"),
      ("[1]", "token answer refused: the body is not a JSON object"),
    ])
  func rejections(body: String, message: String) {
    guard case .failure(let problem) = parse(200, body) else {
      Issue.record("\(body) was accepted")
      return
    }
    guard case .rejected = problem else {
      Issue.record("\(body): \(problem) is not a rejection")
      return
    }
    #expect(problem.description == message)
  }

  @Test func oauthErrorsAndStatuses() {
    #expect(
      parse(401, #"{"error":"invalid_client","error_description":"Client authentication failed"}"#)
        == .failure(.oauthError(error: "invalid_client", description: "Client authentication failed")))
    #expect(
      (try? parse(400, #"{"error":"invalid_scope"}"#).get()) == nil
        && parse(400, #"{"error":"invalid_scope"}"#) == .failure(.oauthError(error: "invalid_scope", description: nil)))
    #expect(parse(503, "upstream down") == .failure(.status(503)))
    #expect(
      OAuth2TokenResponse.Problem.oauthError(error: "invalid_client", description: "bad").description
        == "token endpoint error invalid_client: bad")
    // Server text is made printable and bounded before it reaches a log line.
    guard case .failure(.oauthError(_, let description?)) = parse(400, #"{"error":"x","error_description":"a\nb"}"#) else {
      Issue.record("no description")
      return
    }
    #expect(description == "a?b")
  }

  /// RFC 8693 §2.2.1: a token exchange answer carries issued_token_type, and `N_A` as its
  /// token_type when the token is not an access token; either is accepted only as configured.
  @Test func configuredTokenTypeAndIssuedTokenType() throws {
    let exchanged =
      #"{"access_token":"t","token_type":"Bearer","expires_in":60,"issued_token_type":"urn:ietf:params:oauth:token-type:access_token"}"#
    let token = try parse(200, exchanged).get()
    #expect(token.issuedTokenType == "urn:ietf:params:oauth:token-type:access_token")
    #expect(token.expiresIn == .seconds(60))
    let requested = OAuth2TokenResponse.parse(
      status: 200, body: Array(exchanged.utf8), requestedTokenType: "urn:ietf:params:oauth:token-type:access_token")
    #expect((try? requested.get()) == token)
    #expect(
      OAuth2TokenResponse.parse(status: 200, body: Array(exchanged.utf8), requestedTokenType: "urn:ietf:params:oauth:token-type:jwt")
        == .failure(
          .rejected(
            "issued_token_type is \"urn:ietf:params:oauth:token-type:access_token\", requested urn:ietf:params:oauth:token-type:jwt")))

    let notAnAccessToken = Array(#"{"access_token":"t","token_type":"N_A"}"#.utf8)
    #expect(
      OAuth2TokenResponse.parse(status: 200, body: notAnAccessToken)
        == .failure(.rejected(#"token_type is "N_A", expected Bearer"#)))
    #expect((try? OAuth2TokenResponse.parse(status: 200, body: notAnAccessToken, expectedTokenType: "n_a").get())?.accessToken == "t")
    #expect(
      OAuth2TokenResponse.parse(status: 200, body: Array(#"{"access_token":"t","token_type":"Bearer"}"#.utf8), expectedTokenType: "N_A")
        == .failure(.rejected(#"token_type is "Bearer", expected N_A"#)))
  }

  @Test func noMessageQuotesTheToken() {
    for body in [
      #"{"access_token":"SECRET-TOKEN","token_type":"mac"}"#, #"{"access_token":"SECRET-TOKEN","token_type":"Bearer","expires_in":-1}"#,
    ] {
      guard case .failure(let problem) = parse(200, body) else {
        Issue.record("accepted")
        continue
      }
      #expect(!problem.description.contains("SECRET-TOKEN"))
    }
  }

  @Test func formEncoding() {
    #expect(FormURLEncoding.encode("a b+c/d:é~") == "a%20b%2Bc%2Fd%3A%C3%A9~")
    #expect(
      FormURLEncoding.body([("grant_type", "client_credentials"), ("scope", "read write")])
        == "grant_type=client_credentials&scope=read%20write")
  }

  @Test func headerAnswerBodyRoundTripsThroughTheValidator() {
    let body = HeaderAnswerBody.json([("authorization", "Bearer a\"b\\c"), ("x-b", "v")])
    let headers = try? ProviderAnswerValidator.validate(FetchedAnswer(status: 200, body: body)).get()
    #expect(headers == [HeaderField(name: "authorization", value: "Bearer a\"b\\c"), HeaderField(name: "x-b", value: "v")])
    // A newline is escaped into the JSON and refused by the validator, as from any endpoint.
    let bad = HeaderAnswerBody.json([("x-a", "line1\nline2")])
    guard case .failure(let error) = ProviderAnswerValidator.validate(FetchedAnswer(status: 200, body: bad)) else {
      Issue.record("a value with a newline was accepted")
      return
    }
    #expect(error.description == #"header "x-a": value contains CR or LF"#)
  }
}
