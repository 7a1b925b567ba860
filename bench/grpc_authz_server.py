#!/usr/bin/env python3
"""The Python reference for scripts/bench: a straightforward grpcio ext_authz v3 server.

    grpc_authz_server.py PORT --gen DIR [--headers N] [--workers N]
    grpc_authz_server.py PORT --capture FILE

Serve mode answers every /envoy.service.auth.v3.Authorization/Check with OK and the same
headers Augmenter injects (bench/headers.py, append=false), decoding the CheckRequest and
building the CheckResponse with protobuf classes that `protoc --python_out` generated from
Augmenter's own .proto files (Sources/EnvoyAPI/proto) into DIR: what a user writing this server
in Python would do (grpcio's synchronous server, a thread pool, generated messages).

Capture mode (bench/capture-check-request) writes the first request it gets, exactly as it
arrived, as one gRPC length-prefixed message (0x00, 4-byte big-endian length, the bytes) to FILE,
and allows every request with no headers.
"""
import argparse
import os
import sys
from concurrent import futures

import grpc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import headers  # noqa: E402

SERVICE = "envoy.service.auth.v3.Authorization"
ALLOW_NO_HEADERS = b"\x0a\x00\x1a\x00"  # CheckResponse{status: {}, ok_response: {}}


def serve_handler(gen_dir, count):
    sys.path.insert(0, gen_dir)
    from envoy.service.auth.v3 import external_auth_pb2 as pb

    fields = headers.injected(count)

    def check(request, context):
        response = pb.CheckResponse()
        response.status.code = 0
        ok = response.ok_response
        for name, value in fields:
            option = ok.headers.add()
            option.header.key = name
            option.header.value = value
            option.append.value = False
        return response

    return grpc.unary_unary_rpc_method_handler(
        check,
        request_deserializer=pb.CheckRequest.FromString,
        response_serializer=pb.CheckResponse.SerializeToString,
    )


def capture_handler(path):
    def check(request, context):
        if not os.path.exists(path):
            with open(path + ".tmp", "wb") as out:
                out.write(b"\x00" + len(request).to_bytes(4, "big") + request)
            os.replace(path + ".tmp", path)
        return ALLOW_NO_HEADERS

    # No (de)serializers: the handler sees and returns the raw message bytes.
    return grpc.unary_unary_rpc_method_handler(check)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("--gen", help="directory with the protoc --python_out modules")
    parser.add_argument("--headers", type=int, default=2)
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--capture", help="write the first request here and allow everything")
    args = parser.parse_args()
    if args.capture:
        handler = capture_handler(args.capture)
    elif args.gen:
        handler = serve_handler(args.gen, args.headers)
    else:
        parser.error("--gen DIR or --capture FILE is required")
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=args.workers))
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, {"Check": handler}),))
    if server.add_insecure_port(f"127.0.0.1:{args.port}") == 0:
        sys.exit(f"cannot listen on 127.0.0.1:{args.port}")
    server.start()
    print(f"listening on 127.0.0.1:{args.port}", flush=True)
    server.wait_for_termination()


if __name__ == "__main__":
    main()
