#!/usr/bin/env python3
"""OAuth 2.0 authorization server for the end-to-end tests, built on Authlib (Flask integration).

Issues RS256-signed JWT access tokens (RFC 9068) for the client credentials grant (RFC 6749
§4.4) and, given the subject tokens' issuer key, the token exchange grant (RFC 8693), with a
short lifetime, authenticating the one client with client_secret_basic, client_secret_post or,
given its public key, private_key_jwt (RFC 7523, Authlib's JWTBearerClientAssertion). A wrong
secret or assertion gets Authlib's `invalid_client` error. The expected secret is read from a
file on every request, so a test can rotate it.

Token exchange: Authlib has no RFC 8693 grant, so TokenExchangeGrant below is one, on Authlib's
grant base classes. The subject token must be a JWT (subject_token_type
urn:ietf:params:oauth:token-type:jwt) signed RS256 by --subject-public-key, with `iss`
--subject-issuer, `aud` containing --subject-audience and an `exp` in the future, as a
Kubernetes service-account token is; anything else is `invalid_grant`. The access token's `sub`
is the subject token's `sub`, and `act` names the client (RFC 8693 §4.1).

--clock-offset SECONDS shifts the `iat` and `exp` of the tokens issued (an IdP whose clock is
ahead, positive, or behind, negative); `expires_in` stays --expires-in.

    oauth2-server.py --port PORT --client-id ID --secret-file FILE [--expires-in SECONDS]
                     [--public-key PEM --public-key-type RSA|EC] [--clock-offset SECONDS]
                     [--subject-public-key PEM --subject-issuer ISS --subject-audience AUD]

GET /stats answers what the tests count: every token request (time, authentication method, form
parameters without the secret, assertion or subject token, outcome) and the `iat`/`exp`/`sub` of
every token issued (and its `jti`).
GET /jwks answers the public key, should a test want to verify the tokens.
"""
import argparse
import threading
import time

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import ClientMixin, grants
from authlib.oauth2.rfc6749.errors import InvalidGrantError, InvalidRequestError, UnauthorizedClientError
from authlib.oauth2.rfc6749.grants.base import BaseGrant, TokenEndpointMixin
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from authlib.oauth2.rfc9068 import JWTBearerTokenGenerator
from flask import Flask, jsonify, request
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, RSAKey, import_key
from werkzeug.serving import make_server

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--client-id", required=True)
parser.add_argument("--secret-file", required=True)
parser.add_argument("--expires-in", type=int, default=4)
parser.add_argument("--public-key")
parser.add_argument("--public-key-type", choices=["RSA", "EC"], default="RSA")
parser.add_argument("--clock-offset", type=int, default=0)
parser.add_argument("--subject-public-key")
parser.add_argument("--subject-issuer", default="https://kubernetes.default.svc.test")
parser.add_argument("--subject-audience", default="oauth2-server.test")
args = parser.parse_args()

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
JWT_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:jwt"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"

KEY = RSAKey.generate_key(2048, private=True, auto_kid=True)
KEYS = KeySet([KEY])
LOCK = threading.Lock()
STATS = {"token_requests": [], "issued": []}


class Client(ClientMixin):
    """The one confidential client; its secret is whatever the secret file holds now."""

    def get_client_id(self):
        return args.client_id

    def get_default_redirect_uri(self):
        return None

    def get_allowed_scope(self, scope):
        return scope or ""

    def check_redirect_uri(self, redirect_uri):
        return False

    def check_client_secret(self, client_secret):
        with open(args.secret_file, encoding="utf-8") as f:
            return client_secret == f.read().strip()

    def check_endpoint_auth_method(self, method, endpoint):
        return method in ("client_secret_basic", "client_secret_post", "private_key_jwt")

    def check_response_type(self, response_type):
        return False

    def check_grant_type(self, grant_type):
        return grant_type == "client_credentials" or (grant_type == TOKEN_EXCHANGE and bool(args.subject_public_key))


CLIENT = Client()


class ClientCredentialsGrant(grants.ClientCredentialsGrant):
    # private_key_jwt only when its verifier is registered: Authlib tries every listed method.
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"] + (
        ["private_key_jwt"] if args.public_key else [])


class Subject:
    """The party a subject token speaks for; Authlib's token generator takes it as the `user`."""

    def __init__(self, sub):
        self.sub = sub

    def get_user_id(self):
        return self.sub


class TokenExchangeGrant(BaseGrant, TokenEndpointMixin):
    """RFC 8693 §2.1: trades a subject token this server trusts for an access token.

    The client authenticates as for client credentials; the subject token is verified like a
    Kubernetes service-account token at a federation endpoint: signature by the issuer's key,
    issuer, audience and expiry. The issued token says who it is for (`sub`) and who asked (`act`).
    """

    GRANT_TYPE = TOKEN_EXCHANGE
    TOKEN_ENDPOINT_AUTH_METHODS = ClientCredentialsGrant.TOKEN_ENDPOINT_AUTH_METHODS

    def validate_token_request(self):
        client = self.authenticate_token_endpoint_client()
        if not client.check_grant_type(self.GRANT_TYPE):
            raise UnauthorizedClientError(f"The client is not authorized to use 'grant_type={self.GRANT_TYPE}'")
        self.request.client = client
        form = self.request.payload.data
        subject_token = form.get("subject_token")
        if not subject_token:
            raise InvalidRequestError("Missing 'subject_token'")
        if form.get("subject_token_type") != JWT_TOKEN_TYPE:
            raise InvalidRequestError(f"Unsupported 'subject_token_type', expected {JWT_TOKEN_TYPE}")
        requested = form.get("requested_token_type")
        if requested and requested not in (ACCESS_TOKEN_TYPE, JWT_TOKEN_TYPE):
            raise InvalidRequestError("Unsupported 'requested_token_type'")
        with open(args.subject_public_key, "rb") as f:
            issuer_key = import_key(f.read(), "RSA")
        try:
            claims = jwt.decode(subject_token, issuer_key, algorithms=["RS256"]).claims
            jwt.JWTClaimsRegistry(
                iss={"essential": True, "value": args.subject_issuer},
                aud={"essential": True, "value": args.subject_audience},
                exp={"essential": True},
                sub={"essential": True},
            ).validate(claims)
        except (JoseError, ValueError) as error:
            raise InvalidGrantError(f"The subject token is not valid: {type(error).__name__}")
        self.request.user = Subject(claims["sub"])
        self.validate_requested_scope()

    def create_token_response(self):
        token = self.generate_token(
            user=self.request.user, scope=self.request.payload.scope, include_refresh_token=False)
        token["issued_token_type"] = ACCESS_TOKEN_TYPE
        self.save_token(token)
        return 200, token, self.TOKEN_RESPONSE_HEADER


class PrivateKeyJWT(JWTBearerClientAssertion):
    """private_key_jwt: the assertion's audience is this token endpoint; each jti is used once."""

    CLIENT_AUTH_METHOD = "private_key_jwt"
    seen = set()

    def get_audiences(self):
        return [f"http://127.0.0.1:{args.port}/token"]

    def validate_jti(self, claims, jti):
        with LOCK:
            if jti in self.seen:
                return False
            self.seen.add(jti)
            return True

    def resolve_client_public_key(self, client):
        with open(args.public_key, "rb") as f:
            return import_key(f.read(), args.public_key_type)


class TokenGenerator(JWTBearerTokenGenerator):
    def get_jwks(self):
        return KEYS

    def get_extra_claims(self, client, grant_type, user, scope):
        claims = {}
        if grant_type == TOKEN_EXCHANGE:
            claims["act"] = {"sub": client.get_client_id()}
        if args.clock_offset:
            # Applied after Authlib's own iat/exp: this server's clock is off by the offset.
            now = int(time.time()) + args.clock_offset
            claims["iat"] = now
            claims["exp"] = now + args.expires_in
        return claims


app = Flask(__name__)
server = AuthorizationServer(
    app,
    query_client=lambda client_id: CLIENT if client_id == args.client_id else None,
    save_token=lambda token, req: None,
)
server.register_grant(ClientCredentialsGrant)
if args.subject_public_key:
    server.register_grant(TokenExchangeGrant)
if args.public_key:
    server.register_client_auth_method(PrivateKeyJWT.CLIENT_AUTH_METHOD, PrivateKeyJWT())
server.register_token_generator(
    "default", TokenGenerator(issuer="http://oauth2-server.test", expires_generator=args.expires_in)
)


@app.post("/token")
def token():
    if request.headers.get("authorization", "").lower().startswith("basic "):
        method = "client_secret_basic"
    elif "client_secret" in request.form:
        method = "client_secret_post"
    elif "client_assertion" in request.form:
        method = "private_key_jwt"
    else:
        method = "none"
    response = server.create_token_response()
    body = response.get_json(silent=True) or {}
    record = {
        "time": time.time(),
        "auth_method": method,
        "params": {
            k: v for k, v in request.form.items() if k not in ("client_secret", "client_assertion", "subject_token")},
        "status": response.status_code,
        "error": body.get("error"),
    }
    with LOCK:
        STATS["token_requests"].append(record)
        if "access_token" in body:
            claims = jwt.decode(body["access_token"], KEYS).claims
            STATS["issued"].append(
                {"iat": claims["iat"], "exp": claims["exp"], "sub": claims.get("sub"), "jti": claims.get("jti"),
                 "time": record["time"]})
    return response


@app.get("/stats")
def stats():
    with LOCK:
        return jsonify(STATS)


@app.get("/jwks")
def jwks():
    return jsonify(KEYS.as_dict(private=False))


if __name__ == "__main__":
    make_server("127.0.0.1", args.port, app, threaded=True).serve_forever()
