#!/usr/bin/env python3
"""Demo header provider for scripts/demo.

Serves GET /headers with a JSON object of header name -> value, the shape Augmenter polls:
    {"authorization": "Bearer demo-token-<n>", "x-tenant": "demo"}
The token changes every time it is fetched, so the demo shows refreshed values.

Usage: demo-provider.py PORT
"""
import itertools
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

counter = itertools.count(1)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        if self.path.split("?", 1)[0] != "/headers":
            self.send_error(404, "try /headers")
            return
        body = json.dumps(
            {"authorization": f"Bearer demo-token-{next(counter):04d}", "x-tenant": "demo"}
        ).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        sys.stderr.write("provider: " + (fmt % args) + "\n")


if __name__ == "__main__":
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
