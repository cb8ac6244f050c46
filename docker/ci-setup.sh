#!/usr/bin/env bash
# Make this machine ready for the Docker sandbox tests. Idempotent: every step
# checks first and does nothing when its result is already there.
#   1. install docker.io and debootstrap (apt) when missing;
#   2. start dockerd (no bridge, no iptables: sandbox containers have no
#      network anyway) when no engine answers;
#   3. build the sandbox image offline when it is missing or outdated.
# Needs root for steps 1-2. Log of a dockerd started here: $STOCHBOX_DOCKERD_LOG.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
image="${STOCHBOX_SANDBOX_IMAGE:-stochbox-sandbox:latest}"
log="${STOCHBOX_DOCKERD_LOG:-/var/log/stochbox-dockerd.log}"
python="${STOCHBOX_PYTHON:-$repo/.venv/bin/python}"
[ -x "$python" ] || python="$(command -v python3)"

engine_answers() { timeout 5 docker info >/dev/null 2>&1; }

if ! command -v dockerd >/dev/null 2>&1 || ! command -v docker >/dev/null 2>&1 \
   || ! command -v debootstrap >/dev/null 2>&1; then
    echo "ci-setup: installing docker.io and debootstrap"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq docker.io debootstrap >/dev/null
fi

if ! engine_answers; then
    echo "ci-setup: starting dockerd (log: $log)"
    nohup dockerd --bridge=none --iptables=false >>"$log" 2>&1 &
    for _ in $(seq 1 120); do
        engine_answers && break
        sleep 0.25
    done
    if ! engine_answers; then
        echo "ci-setup: dockerd did not answer within 30 s; last log lines:" >&2
        tail -n 20 "$log" >&2
        exit 1
    fi
fi
echo "ci-setup: docker engine answers ($(docker version --format '{{.Server.Version}}'))"

# Builds when missing (offline: no registry here), or when an earlier offline
# build used an older recipe; a present current image costs one inspect.
"$python" - "$image" <<'PY'
import sys
from stochbox.sandbox.image import ensure_image
built = ensure_image(sys.argv[1])
print(f"ci-setup: image {sys.argv[1]} " + ("present" if built is None else f"built: {built.model_dump_json()}"))
PY
