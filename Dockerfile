# syntax=docker/dockerfile:1
#
# Augmenter's container image, in two stages:
#   builder: the Swift 6.3 toolchain builds dist/augmenter with scripts/package (release, Swift
#            runtime linked statically; the script checks the shared-library list);
#   runtime: Debian 12 slim with only the shared libraries that list still needs.
#
#   docker build -t registry.example.com/augmenter:0.1.0 .
#   docker run --rm -p 9191:9191 -p 9901:9901 \
#     -v "$PWD/config.yaml:/etc/augmenter/config.yaml:ro" registry.example.com/augmenter:0.1.0
#
# The image holds no configuration: mount one at /etc/augmenter/config.yaml (the Kubernetes
# manifests in k8s/ do), or override CMD, e.g. `serve` alone for the built-in defaults plus
# AUGMENTER_* environment overrides.

FROM swift:6.3-bookworm AS builder
RUN apt-get update \
 && apt-get install -y --no-install-recommends libnghttp2-dev libssl-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# The cache mount keeps SwiftPM's build folder between builds (BuildKit); dist/ is outside it.
RUN --mount=type=cache,target=/src/.build scripts/package

FROM debian:bookworm-slim AS runtime
# What `ldd dist/augmenter` still lists beyond the base image (libc6, libgcc-s1, libstdc++6 and
# zlib1g are already in bookworm-slim); ca-certificates for https providers.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libnghttp2-14 libssl3 ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=builder /src/dist/augmenter /usr/local/bin/augmenter
# 65532: the conventional "nonroot" uid/gid; the Kubernetes manifests run as the same user.
USER 65532:65532
# 9191: checks (gRPC ext_authz, gRPC health, HTTP-mode ext_authz); 9901: /healthz /readyz /status.
EXPOSE 9191 9901
ENTRYPOINT ["/usr/local/bin/augmenter"]
CMD ["serve", "--config", "/etc/augmenter/config.yaml"]
