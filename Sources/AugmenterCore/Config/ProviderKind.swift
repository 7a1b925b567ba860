// Where a provider's headers come from (key `providers[].kind`). Every kind ends in the same
// place: an answer the refresher validates, publishes and schedules by its lifetime.

/// The kinds of provider.
public enum ProviderKind: String, Sendable, Hashable, CaseIterable {
  /// An HTTP endpoint answering a JSON object of header names to values (the default, and the
  /// only kind before kinds existed: every key it had keeps its meaning).
  case http
  /// Header values read from files that another agent keeps fresh (a projected service-account
  /// token, a JWT-SVID written by spiffe-helper, a Vault Agent template).
  case file
  /// An OAuth 2.0 token endpoint, client credentials grant (RFC 6749 §4.4).
  case oauth2ClientCredentials = "oauth2_client_credentials"
  /// An OAuth 2.0 token endpoint, token exchange grant (RFC 8693): a subject token read from a
  /// file (typically the pod's projected service-account token) traded for an access token.
  case tokenExchange = "token_exchange"

  /// Whether the kind asks an OAuth 2.0 token endpoint (and so has its keys: `token_url`,
  /// `client_id`, client authentication, `scope`, `audience`, `resource`, `header`, `format`).
  public var isOAuth2: Bool { self == .oauth2ClientCredentials || self == .tokenExchange }
}

/// How an OAuth 2.0 client authenticates at the token endpoint (RFC 6749 §2.3.1; the names are
/// those of the `token_endpoint_auth_method` registry, RFC 7591 §2).
public enum OAuth2ClientAuthMethod: String, Sendable, Hashable, CaseIterable {
  /// HTTP Basic with the form-encoded client id and secret (the method servers must support).
  case clientSecretBasic = "client_secret_basic"
  /// `client_id` and `client_secret` in the form body.
  case clientSecretPost = "client_secret_post"
  /// A JWT signed with the client's private key (RFC 7523 §2.2; OpenID Connect Core §9).
  case privateKeyJWT = "private_key_jwt"
}

/// How a `private_key_jwt` assertion is signed (RFC 7518 §3.1; written in any case).
public enum JWTSigningAlgorithm: String, Sendable, Hashable, CaseIterable {
  /// RSASSA-PKCS1-v1_5 with SHA-256, an RSA key of 2048 bits or more.
  case rs256
  /// ECDSA on P-256 with SHA-256.
  case es256

  /// The `alg` header value.
  public var jwsName: String { rawValue.uppercased() }
}
