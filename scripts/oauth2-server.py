#!/usr/bin/env python3
"""OAuth 2.0 authorization server for the end-to-end tests, built on Authlib (Flask integration).

Issues RS256-signed JWT access tokens (RFC 9068) for the client credentials grant (RFC 6749
§4.4) with a short lifetime, authenticating the one client with client_secret_basic,
client_secret_post or, given its public key, private_key_jwt (RFC 7523, Authlib's
JWTBearerClientAssertion). A wrong secret or assertion gets Authlib's `invalid_client` error.
The expected secret is read from a file on every request, so a test can rotate it.

    oauth2-server.py --port PORT --client-id ID --secret-file FILE [--expires-in SECONDS]
                     [--public-key PEM --public-key-type RSA|EC]

GET /stats answers what the tests count: every token request (time, authentication method, form
parameters without the secret, outcome) and the `iat`/`exp` of every token issued.
GET /jwks answers the public key, should a test want to verify the tokens.
"""
import argparse
import threading
import time

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import ClientMixin, grants
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from authlib.oauth2.rfc9068 import JWTBearerTokenGenerator
from flask import Flask, jsonify, request
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey, import_key
from werkzeug.serving import make_server

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--client-id", required=True)
parser.add_argument("--secret-file", required=True)
parser.add_argument("--expires-in", type=int, default=4)
parser.add_argument("--public-key")
parser.add_argument("--public-key-type", choices=["RSA", "EC"], default="RSA")
args = parser.parse_args()

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
        return grant_type == "client_credentials"


CLIENT = Client()


class ClientCredentialsGrant(grants.ClientCredentialsGrant):
    # private_key_jwt only when its verifier is registered: Authlib tries every listed method.
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"] + (
        ["private_key_jwt"] if args.public_key else [])


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


app = Flask(__name__)
server = AuthorizationServer(
    app,
    query_client=lambda client_id: CLIENT if client_id == args.client_id else None,
    save_token=lambda token, req: None,
)
server.register_grant(ClientCredentialsGrant)
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
        "params": {k: v for k, v in request.form.items() if k not in ("client_secret", "client_assertion")},
        "status": response.status_code,
        "error": body.get("error"),
    }
    with LOCK:
        STATS["token_requests"].append(record)
        if "access_token" in body:
            claims = jwt.decode(body["access_token"], KEYS).claims
            STATS["issued"].append({"iat": claims["iat"], "exp": claims["exp"], "time": record["time"]})
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
