#!/usr/bin/env python3
"""Header provider for scripts/bench: GET /headers answers a JSON object of N headers.

    provider.py PORT [--headers N] [--delay SECONDS]

The headers are the ones bench/headers.py describes (the same the Python reference server and
Envoy's route inject). --delay holds every answer that long, so that with a short ttl a refresh
is in progress most of the time (the "slow provider" point of the cost curves).
"""
import argparse
import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import headers  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("--headers", type=int, default=2)
    parser.add_argument("--delay", type=float, default=0.0)
    # GET /stats answers {"fetches": N}: how many answers /headers gave (refreshes during a run).
    args = parser.parse_args()
    body = json.dumps(dict(headers.injected(args.headers))).encode()
    fetches = 0

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            nonlocal fetches
            if self.path == "/stats":
                self.answer(json.dumps({"fetches": fetches}).encode())
                return
            if self.path.split("?", 1)[0] != "/headers":
                self.send_error(404)
                return
            fetches += 1
            if args.delay:
                time.sleep(args.delay)
            self.answer(body)

        def answer(self, content):
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

        def log_message(self, fmt, *a):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
