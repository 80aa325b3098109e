#!/usr/bin/env bash
# One entry point for set-up and the everyday jobs. Every job first runs `setup`, which is
# idempotent: a second run only checks and changes nothing.
#
#   bash workbench.sh main    # the main experiment on built-in data
#   bash workbench.sh test    # the whole test suite
#   bash workbench.sh setup   # apt packages, .venv/, pinned Python packages, compatibility step
#   bash workbench.sh bench   # the benchmarks in benchmarks/
#   bash workbench.sh lab     # JupyterLab on notebooks/ (remote use: notebooks/README.md)
#
# Environment: PYTHON (interpreter for the venv, default python3.11 else python3),
# WORKBENCH_CHROME=1 also installs Chromium (PNG export of figures; `test` always does: browser test).
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$PWD
VENV=$ROOT/.venv
PY=$VENV/bin/python
APT_PACKAGES=(libusb-1.0-0 espeak-ng flite g++ ffmpeg)  # open3d; spoken digits; point-op kernels; torchcodec
[[ "${WORKBENCH_CHROME:-0}" == 1 || "${1:-}" == test ]] && APT_PACKAGES+=(chromium)  # kaleido; tests/browser

log() { printf '\033[1m[workbench]\033[0m %s\n' "$*" >&2; }

setup_apt() {
    local missing=()
    for pkg in "${APT_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    local base=${PYTHON:-$(command -v python3.11 || command -v python3)}
    "$base" -c "import ensurepip, venv" 2>/dev/null || missing+=(python3-venv)
    [[ ${#missing[@]} -eq 0 ]] && return 0
    if ! command -v apt-get >/dev/null; then
        log "please install the system packages: ${missing[*]} (no apt-get here)"; return 0
    fi
    local sudo=""; [[ $(id -u) -ne 0 ]] && sudo=sudo
    log "installing system packages: ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

setup_venv() {
    local base=${PYTHON:-$(command -v python3.11 || command -v python3)}
    [[ -x $PY ]] || { log "creating $VENV"; "$base" -m venv "$VENV"; }
    local stamp=$VENV/.workbench-installed
    local want; want=$(cat pyproject.toml constraints.txt scripts/cpu_wheel_compat.py scripts/torchvision_cpu_hook.py | sha256sum)
    if [[ -f $stamp && "$(cat "$stamp")" == "$want" ]]; then return 0; fi
    log "installing pinned Python packages into $VENV (first time: about 2 minutes)"
    PIP_CONSTRAINT=$ROOT/constraints.txt "$PY" -m pip install -q --disable-pip-version-check \
        -c constraints.txt -e ".[dev,lab]"
    "$PY" scripts/cpu_wheel_compat.py
    echo "$want" >"$stamp"
}

# dash (an open3d dependency) drops a source lab extension into the venv that JupyterLab would have
# to rebuild (node.js): every page load then shows a blocking "Build Recommended" dialog. The
# workbench never uses dash in JupyterLab, so the extension is removed (after every pip install).
setup_lab() { rm -f "$VENV/share/jupyter/lab/extensions/dash-jupyterlab.tgz"; }

setup() { setup_apt; setup_venv; setup_lab; }

# JupyterLab on notebooks/. It prints the URL with its token. As root (containers, cloud machines)
# Jupyter refuses to start without --allow-root; with no display it opens no browser.
lab() {
    local args=()
    [[ " $* " == *" --ServerApp.root_dir="* || " $* " == *" --notebook-dir="* ]] || args+=(--ServerApp.root_dir="$ROOT/notebooks")
    [[ $(id -u) -eq 0 ]] && args+=(--allow-root)
    [[ $(uname) == Linux && -z "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]] && args+=(--no-browser)
    log "JupyterLab: open the URL printed below (remote machine: see notebooks/README.md); Ctrl-C stops it"
    exec "$VENV/bin/jupyter" lab "${args[@]}" "$@"
}

cmd=${1:-help}; shift || true
case "$cmd" in
    setup) setup ;;
    main)  setup; exec "$PY" -m workflows experiment --config configs/main.yaml "$@" ;;
    test)  setup; exec "$PY" -m pytest -n "${WORKBENCH_TEST_WORKERS:-2}" "$@" ;;
    bench) setup; for b in benchmarks/*.py; do log "$b"; "$PY" "$b" "$@"; done ;;
    lab)   setup; lab "$@" ;;
    *)     sed -n '2,14p' "$0"; [[ $cmd == help ]] ;;
esac
