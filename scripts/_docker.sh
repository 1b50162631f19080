# Sourced by test.sh: a real Docker engine, the offline test base image and docker-registry
# for the container tests (no mocks). Docker Hub may be unreachable, so the base image is
# built from Debian packages (mmdebstrap) and registries are local (docker-registry).
# CI=true: failing here fails the run, so container tests never skip silently in CI.
# Elsewhere: one warning line, and the container tests skip.
DSDT_TEST_BASE_IMAGE="${DSDT_TEST_BASE_IMAGE:-dsdt-test-base:bookworm}"
_dsdt_docker_log="$(mktemp -t dsdt-docker.XXXXXX.log)"  # apt, dockerd, mmdebstrap output
_dsdt_dockerd_pid=""
_dsdt_docker_why=""

_dsdt_docker_fail() {  # record why Docker is unavailable (then the caller returns 1)
  _dsdt_docker_why="$1"
  [ "${2:-}" != log ] || _dsdt_docker_why+=" (log: $_dsdt_docker_log)"
}

_dsdt_stop_dockerd() {  # EXIT trap: stop the dockerd started here, and wait for it
  kill "$_dsdt_dockerd_pid" 2>/dev/null || true
  wait "$_dsdt_dockerd_pid" 2>/dev/null || true
}

_dsdt_build_base_image() {  # ~35 s, once per machine: Debian minbase + python3-venv
  set -o pipefail  # (run in a subshell) a failed mmdebstrap must fail the import
  mmdebstrap --variant=minbase --include=python3,python3-venv --quiet bookworm - \
    "${DSDT_DEBIAN_MIRROR:-http://deb.debian.org/debian}" | docker import - "$DSDT_TEST_BASE_IMAGE"
}

# Runs in an `if`, where `set -e` is off: every step checks its own status.
_dsdt_docker_setup() {
  # Root with apt-get (a CI machine) installs what is missing and needed. docker.io only
  # when there is no engine: it conflicts with Docker's own docker-ce packages.
  local pkgs=()
  docker info >/dev/null 2>&1 || type -P dockerd >/dev/null || pkgs+=(docker.io)
  type -P docker-registry >/dev/null || pkgs+=(docker-registry)
  docker image inspect "$DSDT_TEST_BASE_IMAGE" >/dev/null 2>&1 \
    || type -P mmdebstrap >/dev/null || pkgs+=(mmdebstrap)
  if [ ${#pkgs[@]} -gt 0 ] && [ "$(id -u)" = 0 ] && type -P apt-get >/dev/null; then
    local -x DEBIAN_FRONTEND=noninteractive  # never prompt
    # A fresh machine may have no package lists yet: then update once and retry.
    { apt-get install -y -q "${pkgs[@]}" \
      || { apt-get update -q && apt-get install -y -q "${pkgs[@]}"; }; } \
      >>"$_dsdt_docker_log" 2>&1 </dev/null \
      || { _dsdt_docker_fail "apt-get install ${pkgs[*]} failed" log; return 1; }
  fi

  if ! docker info >/dev/null 2>&1; then
    if [ "$(id -u)" != 0 ] || ! type -P dockerd >/dev/null; then
      _dsdt_docker_fail "no Docker engine (docker info fails), and no dockerd to start as root"
      return 1
    fi
    dockerd >>"$_dsdt_docker_log" 2>&1 &
    _dsdt_dockerd_pid=$!
    trap _dsdt_stop_dockerd EXIT  # (test.sh sets no other EXIT trap)
    local _
    for _ in $(seq 60); do  # ready in ~1 s; give up after 30 s
      docker info >/dev/null 2>&1 && break
      kill -0 "$_dsdt_dockerd_pid" 2>/dev/null || break  # dockerd died: see the log
      sleep 0.5
    done
    if ! docker info >/dev/null 2>&1; then
      local state="exited at start"
      kill -0 "$_dsdt_dockerd_pid" 2>/dev/null && state="not ready within 30 s"
      _dsdt_docker_fail "dockerd $state" log
      return 1
    fi
  fi

  if ! type -P docker-registry >/dev/null; then
    _dsdt_docker_fail "docker-registry is missing (apt-get install docker-registry)"
    return 1
  fi

  if ! docker image inspect "$DSDT_TEST_BASE_IMAGE" >/dev/null 2>&1; then
    if ! type -P mmdebstrap >/dev/null; then
      _dsdt_docker_fail "no image $DSDT_TEST_BASE_IMAGE, nor mmdebstrap to build it"
      return 1
    fi
    echo "building $DSDT_TEST_BASE_IMAGE with mmdebstrap (log: $_dsdt_docker_log)" >&2
    if ! (_dsdt_build_base_image) >>"$_dsdt_docker_log" 2>&1; then
      # docker import makes an (empty) image even when mmdebstrap fails: remove it.
      docker image rm -f "$DSDT_TEST_BASE_IMAGE" >/dev/null 2>&1
      _dsdt_docker_fail "building $DSDT_TEST_BASE_IMAGE with mmdebstrap failed" log
      return 1
    fi
  fi
}

if _dsdt_docker_setup; then
  export DSDT_TEST_BASE_IMAGE DSDT_DOCKER=1
elif [ "${CI:-}" = true ]; then
  tail -n 20 "$_dsdt_docker_log" >&2  # in CI, the job log is all there is to look at
  echo "error: container tests need Docker in CI: $_dsdt_docker_why" >&2
  exit 1
else
  echo "warning: $_dsdt_docker_why; the container tests will skip" >&2
fi
[ -s "$_dsdt_docker_log" ] || rm -f "$_dsdt_docker_log"  # keep only a log with something in it
