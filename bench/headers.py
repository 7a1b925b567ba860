"""The headers every authorization variant of scripts/bench injects, in one place.

injected(2) is the default set: an `authorization` bearer token of a realistic size (a JWT is
a few hundred bytes) and `x-tenant`. Augmenter gets them from bench/provider.py, the Python
reference server answers them itself, and the "route" Envoy variant adds them with
request_headers_to_add. injected(1), injected(10) and injected(100) are the cost-curve points
(100 is the most a provider answer may carry).
"""

TOKEN = (
    "Bearer eyJhbGciOiJSUzI1NiIsImtpZCI6ImJlbmNoIn0."
    "eyJpc3MiOiJodHRwczovL2lkcC5leGFtcGxlLmNvbSIsInN1YiI6ImJlbmNoLXdvcmtsb2FkIiwiYXVkIjoiYXBpIiwiZXhwIjo0MTAyNDQ0ODAwfQ."
    "c2lnbmF0dXJlLW9mLXRoZS1iZW5jaG1hcmstdG9rZW4tc2l6ZWQtbGlrZS1hLXJlYWwtb25l"
)


def injected(count=2):
    """[(name, value)] for `count` headers; the first is always authorization."""
    if count < 1:
        return []
    fields = [("authorization", TOKEN)]
    if count >= 2:
        fields.append(("x-tenant", "bench"))
    for index in range(2, count):
        fields.append((f"x-bench-{index:03d}", f"value-{index:03d}-" + "v" * 24))
    return fields


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(dict(injected(int(sys.argv[1]) if len(sys.argv) > 1 else 2))))
