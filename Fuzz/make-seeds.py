#!/usr/bin/env python3
"""Writes the seed corpora under Fuzz/Corpus/<Target>/ (run from anywhere; idempotent).

Seeds are small, meaningful inputs each target's mutations start from: a real Envoy CheckRequest
and hand-encoded variants, provider answers, configurations from README.md, templates, gRPC
frames, HTTP/2 client connections, HTTP/1.1 requests, TLS ClientHellos. Every target reads a few
leading control bytes first (see each target's header comment); the seeds put them in.
"""
import os
import ssl
import struct

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "Fuzz", "Corpus")


def write(target, name, data):
    directory = os.path.join(CORPUS, target)
    os.makedirs(directory, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(directory, name), "wb") as f:
        f.write(data)


# ---- protobuf wire format ------------------------------------------------------------------
def varint(n):
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def field(number, body):
    if isinstance(body, str):
        body = body.encode()
    return varint(number << 3 | 2) + varint(len(body)) + body


def vfield(number, value):
    return varint(number << 3) + varint(value)


def socket_peer(ip, port):
    return field(1, field(1, field(2, ip) + vfield(3, port)))  # Peer.address.socket_address


def map_entry(number, key, value):
    return field(number, field(1, key) + field(2, value))


def check_request(http, source=("127.0.0.1", 46496), destination=("10.0.0.2", 9191), context=()):
    attributes = field(1, socket_peer(*source)) + field(2, socket_peer(*destination))
    attributes += field(4, field(2, http))
    for key, value in context:
        attributes += map_entry(10, key, value)
    return field(1, attributes)


def seeds_check_request():
    with open(os.path.join(ROOT, "bench", "check-request.bin"), "rb") as f:
        framed = f.read()
    write("CheckRequestScanner", "envoy-captured", framed[5:])
    headers = b"".join(map_entry(3, k, v) for k, v in [
        (":authority", "api.example.com:8443"), (":path", "/api/v1/orders?x=1"), (":method", "POST"),
        ("x-request-id", "e32b1ced-8ea3-4c03-9c58-625877eacdc5"), ("authorization", "Bearer abc"),
        ("x-tenant", "a,b"), ("cookie", "session=1")])
    http = field(1, "123") + field(2, "POST") + headers + field(4, "/api/v1/orders?x=1") + field(5, "api.example.com:8443") \
        + field(6, "https") + field(10, "HTTP/2")
    write("CheckRequestScanner", "headers-context-ipv6", check_request(
        http, source=("2001:db8::1", 443), destination=("::1", 9191), context=[("tenant", "a"), ("route", "orders")]))
    header_map = field(13, b"".join(
        field(1, field(1, k) + field(3, v)) for k, v in [
            (":method", "GET"), (":path", "/raw"), ("x-request-id", "raw-id"), ("X-Mixed-Case", "raw value"),
            ("x-dup", "1"), ("x-dup", "2")]))
    write("CheckRequestScanner", "header-map-raw-values", check_request(
        field(2, "GET") + header_map + field(4, "/raw") + field(5, "raw.example") + field(6, "http")))
    # Merge semantics: a singular field twice, the request message split in two, an unknown field.
    twice = field(1, field(4, field(2, field(2, "GET") + field(4, "/first")))) \
        + field(1, field(4, field(2, field(4, "/second") + field(5, "h")))) + vfield(99, 7)
    write("CheckRequestScanner", "merged-duplicates-unknown", twice)
    write("CheckRequestScanner", "empty", b"")
    # metadata_context (#11) with a Struct holding nested values (the scanner validates but skips it).
    struct_value = field(1, field(1, "k") + field(2, field(3, "v") + field(5, field(1, field(1, "n") + field(2, vfield(4, 1))))))
    write("CheckRequestScanner", "metadata-struct", field(1, field(11, field(1, field(1, "envoy.filters") + field(2, struct_value)))
                                                       + field(4, field(2, field(2, "GET")))))


# ---- provider answers: [status byte < 240 = 200][limits byte < 200 = defaults][body] ---------
def seeds_provider_answer():
    bodies = {
        "simple": '{"x-token": "abc123", "x-user": "alice"}',
        "trim-unicode-escapes": '{"X-Token": "  S3CR3T-t0ken ", "x-b": "b\\tc", "X-U": "caf\\u00e9 \\ud83d\\ude00", "x-e": ""}',
        "empty-object": " { } \n",
        "crlf-value": '{"x-a": "v\\r\\nx-injected: 1"}',
        "nul-value": '{"x-a": "v\\u0000"}',
        "pseudo-header": '{":path": "/admin"}',
        "hop-by-hop": '{"Connection": "close", "te": "trailers"}',
        "duplicate-case": '{"x-a": "1", "X-A": "2"}',
        "non-string": '{"x-a": 1, "x-b": [true, null, {"c": -1.5e3}]}',
        "array-top": '["x-a", "1"]',
        "deep": '{"x": ' + "[" * 40 + "]" * 40 + "}",
        "token-chars": '{"a!#$%&\'*+-.^_`|~0Z": "q\\"\\\\\\/\\u0041"}',
        "truncated": '{"x-a": "unterminated',
        "lone-surrogate": '{"x-a": "\\ud800"}',
    }
    for name, body in bodies.items():
        write("ProviderAnswer", name, b"\x00\x00" + body.encode())
    write("ProviderAnswer", "status-500", b"\xfc\x00" + b'{"x-a": "secret"}')
    write("ProviderAnswer", "tight-limits", b"\x00\xff" + b'{"x-a": "abcdefghijklmnopq", "x-b": "c"}')
    write("ProviderAnswer", "invalid-utf8", b"\x00\x00" + b'{"x-a": "\xff\xfe"}')


# ---- configurations ------------------------------------------------------------------------
def seeds_config():
    configs = {
        "core.yaml": """listen: 0.0.0.0:9191
admin_listen: 0.0.0.0:9901
providers:
  - name: sidecar
    url: http://127.0.0.1:8081/headers
    authority: sidecar
    ttl: 360s
    timeout: 2s
    max_stale: 0s
headers:
  x-static: "value"
on_unavailable: deny
""",
        "seed-filter.json": '{"header_providing_service_cluster": "sidecar:8081", "header_providing_service_authority": "sidecar", '
                            '"header_providing_service_path": "/headers", "header_cache_expiry": "360s"}',
        "hello-template.yaml": 'headers:\n  x-hello: {template: "Hello world from {authority}"}\n',
        "redirect.yaml": """client_address: {from: header, header: x-real-ip}
rules:
  - match: {client_cidr: [203.0.113.7/32]}
    redirect: {status: 302, location: "https://other-host.example{path}"}
""",
        "rate-limit.yaml": """problem_types:
  "429": {type: "https://errors.example/rate-limited", title: "Too many requests"}
rules:
  - match: {path_prefix: /limited/}
    rate_limit: {key: "{authority}", requests_per_second: 10, burst: 10}
""",
        "fail-strategy.yaml": """providers:
  - {name: sidecar, url: "http://127.0.0.1:8081/headers"}
on_unavailable: deny
problem_types:
  "503": {type: "https://errors.example/headers-unavailable", title: "Headers unavailable"}
rules:
  - match: {path_prefix: /open/}
    allow: {providers: [sidecar], on_unavailable: allow, headers: {x-route: open}}
  - match: {path_prefix: /closed/}
    allow: {providers: [sidecar], on_unavailable: deny, headers: {x-route: closed}}
""",
        "profiles.yaml": """providers:
  - {name: sidecar, url: "http://127.0.0.1:8081/headers"}
profiles:
  tenant-a:
    providers: [sidecar]
    headers: {x-tenant: a, x-plan: gold}
  tenant-b:
    providers: [sidecar]
    headers: {x-tenant: {template: "{context:tenant}"}, x-plan: {action: remove}}
rules:
  - match: {context_extensions: {tenant: a}}
    allow: {profile: tenant-a}
  - match: {context_extensions: {tenant: b}, authority: ["*.example.com"], method: [GET], peer_identity: ["spiffe://cluster.local/ns/edge/sa/*"]}
    allow: {profile: tenant-b}
""",
        "actions-deny.yaml": """headers:
  x-set: {value: s}
  x-append: {value: a, action: append}
  x-add: {value: n, action: add_if_absent}
  x-gone: {action: remove}
  x-prov: {template: "{provider:sidecar:x-token} {header:x-in} {request_id}"}
providers:
  - {name: sidecar, url: "https://sidecar.example/headers", ttl: 6m, timeout: 250ms, max_stale: 30s}
rules:
  - match: {path_prefix: /admin/, header_present: [x-debug], header_equals: {x-env: prod}}
    deny: {status: 403, detail: "the admin area is closed for {path}"}
default: {allow: {}}
""",
        "bad-everything.yaml": """listen: nowhere
providers:
  - {name: "", url: "ftp://x", ttl: -1s, timeout: 10h}
headers:
  "X Bad": "v\\r\\n"
  host: h
rules:
  - match: {client_cidr: [10.1.2.3/8], authority: ["a b"]}
    redirect: {status: 200, location: "{nope}"}
""",
        "environment-override": "providers:\n  - {name: sidecar, url: \"http://127.0.0.1:8081/headers\"}\n\x00"
                                "PROVIDERS__0__URL=http://other:1/h\nHEADERS__X_ENV=from-env\nPORT=tcp://1.2.3.4:80",
    }
    for name, text in configs.items():
        write("Config", name, text)


# ---- templates: NUL-separated template, method, path, authority, header, context, provider,
# ---- client address, host pattern, address range, address ----------------------------------
def seeds_template():
    rows = {
        "hello": ["Hello world from {authority}", "GET", "/a?b=c", "api.example.com:8443", "h", "c", "p",
                  "203.0.113.7", "*.example.com", "203.0.113.0/24", "203.0.113.7"],
        "all-variables": ["{method} {path} {authority} {host} {scheme} {request_id} {client_address} {destination} "
                          "{peer_identity} {header:x-in} {context:tenant} {provider:sidecar:x-token}",
                          "POST", "/p", "[2001:db8::1]:443", "v\r\nx: 1", "ctx", "prov\x01", "2001:db8::1",
                          "api.example.com:*", "2001:db8::/32", "2001:db8::1"],
        "braces": ["{{literal}} and }} {", "GET", "/", "h", "", "", "", "", "*", "0.0.0.0/0", "::ffff:1.2.3.4"],
        "bad": ["{unknown} {header:} {context:} {provider:a}", "", "", "", "", "", "", "", "a*b*c", "10.1.2.3/8", "999.1.1.1"],
    }
    for name, row in rows.items():
        write("Template", name, "\x00".join(row))


# ---- gRPC frames: [limit index][split count][splits...][bytes] -----------------------------
def seeds_grpc():
    message = b"\x0a\x03abc"
    frame = b"\x00" + struct.pack(">I", len(message)) + message
    write("GRPCFraming", "one-message", b"\x06\x00" + frame)
    write("GRPCFraming", "two-messages-split", b"\x06\x03\x01\x04\x02" + frame + frame)
    write("GRPCFraming", "compressed", b"\x06\x00" + b"\x01" + struct.pack(">I", 3) + b"abc")
    write("GRPCFraming", "over-limit", b"\x02\x00" + b"\x00" + struct.pack(">I", 100) + b"x" * 10)
    write("GRPCFraming", "truncated", b"\x06\x00" + frame[:-2])
    write("GRPCFraming", "percent", b"\x06\x00" + "100% é\r\n".encode())


# ---- HTTP/2: [mode][split count][splits...][client frames after the preface] ---------------
def h2frame(kind, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload


def hpack_literal(name, value):
    # Literal header field without indexing, new name, no Huffman.
    return b"\x00" + bytes([len(name)]) + name.encode() + bytes([len(value)]) + value.encode()


def seeds_http2():
    settings = h2frame(4, 0, 0, struct.pack(">HI", 3, 100) + struct.pack(">HI", 4, 65535))
    ack = h2frame(4, 1, 0)
    grpc_headers = (b"\x83\x86"  # :method POST, :scheme http (static table)
                    + hpack_literal(":path", "/envoy.service.auth.v3.Authorization/Check")
                    + hpack_literal(":authority", "augmenter")
                    + hpack_literal("content-type", "application/grpc") + hpack_literal("te", "trailers"))
    with open(os.path.join(ROOT, "bench", "check-request.bin"), "rb") as f:
        body = f.read()
    unary = settings + ack + h2frame(1, 4, 1, grpc_headers) + h2frame(0, 1, 1, body)
    write("HTTP2Session", "grpc-unary-check", b"\x00\x00" + unary)
    get = b"\x82\x86\x84" + hpack_literal(":authority", "x")  # GET, http, /
    two = settings + h2frame(1, 5, 1, get) + h2frame(1, 5, 3, get) + h2frame(6, 0, 0, b"12345678") \
        + h2frame(8, 0, 0, struct.pack(">I", 1 << 20))
    write("HTTP2Session", "two-gets-ping-window", b"\x00\x04\x0a\x20\x03\x40" + two)
    continuation = settings + h2frame(1, 0, 1, grpc_headers[:20]) + h2frame(9, 4, 1, grpc_headers[20:]) + h2frame(0, 1, 1, body)
    write("HTTP2Session", "continuation", b"\x01\x00" + continuation)
    reset = settings + h2frame(1, 4, 1, grpc_headers) + h2frame(3, 0, 1, struct.pack(">I", 8)) + h2frame(7, 0, 0, struct.pack(">II", 1, 0))
    write("HTTP2Session", "rst-goaway", b"\x00\x00" + reset)
    oversized = settings + h2frame(1, 4, 1, grpc_headers) + h2frame(0, 0, 1, b"\x00" * 2000) + h2frame(0, 1, 1, b"\x00")
    write("HTTP2Session", "oversized-body", b"\x00\x00" + oversized)
    write("HTTP2Session", "data-on-stream-0", b"\x00\x00" + settings + h2frame(0, 0, 0, b"x"))
    # A bidirectional stream (the responder streams ext_proc's path): chunks answered as they
    # arrive, a second stream reset midway, the first ended.
    stream_headers = grpc_headers.replace(b"/envoy.service.auth.v3.Authorization/Check",
                                          b"/envoy.service.ext_proc.v3.ExternalProcessor/Process")
    stream_headers = stream_headers.replace(bytes([len("/envoy.service.auth.v3.Authorization/Check")]) + b"/envoy.service.ext_proc",
                                            bytes([len("/envoy.service.ext_proc.v3.ExternalProcessor/Process")]) + b"/envoy.service.ext_proc")
    bidi = settings + ack + h2frame(1, 4, 1, stream_headers) + h2frame(0, 0, 1, body[:40]) + h2frame(1, 4, 3, stream_headers) \
        + h2frame(0, 0, 3, body[:7]) + h2frame(3, 0, 3, struct.pack(">I", 8)) + h2frame(0, 0, 1, body[40:]) + h2frame(0, 1, 1, b"")
    write("HTTP2Session", "bidirectional-stream", b"\x00\x03\x09\x1b\x40" + bidi)


# ---- HTTP/1.1: [split count][splits...][bytes] ---------------------------------------------
def seeds_http1():
    requests = {
        "get": "GET /ext-authz/api?x=1 HTTP/1.1\r\nHost: api.example.com\r\nx-in: hello\r\n\r\n",
        "pipelined": "GET /a HTTP/1.1\r\nHost: a\r\n\r\nHEAD /deny/x HTTP/1.1\r\nHost: b\r\n\r\n"
                     "POST /redirect/y HTTP/1.1\r\nHost: c\r\nContent-Length: 3\r\n\r\nabc"
                     "GET /limited/ HTTP/1.1\r\nHost: d\r\n\r\nGET /limited/ HTTP/1.1\r\nHost: d\r\n\r\nGET /limited/ HTTP/1.1\r\nHost: d\r\n\r\n",
        "http10-close": "GET /x HTTP/1.0\r\nx-real-ip: 203.0.113.9\r\n\r\n",
        "chunked": "POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        "too-large-body": "POST /big HTTP/1.1\r\nHost: h\r\nContent-Length: 2000\r\n\r\n" + "x" * 2000,
        "malformed": "GET / HTTP/1.1\r\nHost: h\r\nBad Header\r\n\r\n",
        "obs-fold-crlf-injection": "GET /deny/%0d%0a HTTP/1.1\r\nHost: h\r\nx-in: a\r\n b\r\n\r\n",
        "connection-close": "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\nGET /after HTTP/1.1\r\n\r\n",
        "head": "HEAD /deny/ HTTP/1.1\r\nHost: h\r\n\r\nGARBAGE\r\n\r\n",
    }
    for name, text in requests.items():
        write("HTTP1Pipeline", name, b"\x00" + text.encode())
    write("HTTP1Pipeline", "split", b"\x03\x00\x05\x01" + requests["pipelined"].encode())


# ---- TLS: [mode][split count][splits...][client bytes] -------------------------------------
def client_hello(maximum=None, alpn=("h2", "http/1.1"), minimum=None):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    if maximum:
        context.maximum_version = maximum
    if minimum:
        context.minimum_version = minimum
    if alpn:
        context.set_alpn_protocols(list(alpn))
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    connection = context.wrap_bio(incoming, outgoing, server_hostname="localhost")
    try:
        connection.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()


def seeds_tls():
    write("TLSHandler", "clienthello-tls13", b"\x00\x00" + client_hello())
    write("TLSHandler", "clienthello-tls12", b"\x00\x00" + client_hello(maximum=ssl.TLSVersion.TLSv1_2))
    write("TLSHandler", "clienthello-tls12-client-ca", b"\x01\x00" + client_hello(maximum=ssl.TLSVersion.TLSv1_2))
    write("TLSHandler", "clienthello-no-alpn-split", b"\x00\x03\x02\x05\x40" + client_hello(alpn=()))
    write("TLSHandler", "clienthello-wrong-alpn", b"\x02\x00" + client_hello(alpn=("spdy/3",)))
    write("TLSHandler", "plaintext-http", b"\x00\x00GET / HTTP/1.1\r\nHost: h\r\n\r\n")
    write("TLSHandler", "alert", b"\x00\x00\x15\x03\x03\x00\x02\x02\x28")


if __name__ == "__main__":
    seeds_check_request()
    seeds_provider_answer()
    seeds_config()
    seeds_template()
    seeds_grpc()
    seeds_http2()
    seeds_http1()
    seeds_tls()
    for target in sorted(os.listdir(CORPUS)):
        print(target, len(os.listdir(os.path.join(CORPUS, target))))
