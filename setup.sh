#!/usr/bin/env bash
# Idempotent set-up: FFmpeg present, a virtual environment with pinned dependencies, models staged.
# Re-running does nothing that is already done. Environment:
#   BTB_PYTHON        Python 3.11+ to build the venv with (default: python3)
#   BTB_MODEL_MIRROR  folder holding the model files (offline machines); default ../shared/models if present
#   BTB_SKIP_MODELS=1 do not stage models here (the workflow stages them on first run)
set -euo pipefail
cd "$(dirname "$0")"
say() { printf '[setup] %s\n' "$*" >&2; }

# 1. FFmpeg (system package: the pipeline calls ffmpeg/ffprobe)
if ! command -v ffmpeg >/dev/null || ! command -v ffprobe >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing ffmpeg with apt-get"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ffmpeg >/dev/null
  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null && command -v apt-get >/dev/null; then
    say "installing ffmpeg with sudo apt-get"
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ffmpeg >/dev/null
  else
    say "ffmpeg/ffprobe not found. Install FFmpeg (>= 5.1) and re-run:"
    say "  Debian/Ubuntu: sudo apt-get install ffmpeg | macOS: brew install ffmpeg | HPC: module load ffmpeg"
    exit 1
  fi
fi

# 2. Python virtual environment with the pinned dependency set
PY=${BTB_PYTHON:-python3}
"$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { say "Python 3.11+ needed ($PY is older)"; exit 1; }
stamp=.venv/.btb-setup
want=$(cat requirements.lock requirements-nodeps.lock pyproject.toml | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  say "creating .venv and installing pinned dependencies (a few minutes the first time)"
  [ -x .venv/bin/python ] || "$PY" -m venv .venv
  .venv/bin/python -m pip install -q --disable-pip-version-check -r requirements.lock
  .venv/bin/python -m pip install -q --disable-pip-version-check --no-deps -r requirements-nodeps.lock
  .venv/bin/python -m pip install -q --disable-pip-version-check --no-deps -e .
  echo "$want" > "$stamp"
fi

# 3. Models, verified against their pinned sha256 (from the mirror, else from their origin)
if [ -z "${BTB_MODEL_MIRROR:-}" ] && [ -d ../shared/models ]; then
  export BTB_MODEL_MIRROR="$(cd ../shared/models && pwd)"
fi
# The staging check itself costs a workflow start (about 1.5 s), so it is skipped while nothing it depends on
# has changed since it last passed: the staging rules and code, the configuration, the mirror, and the staged
# files as they are (name, size, modification time) in the configuration's models.dir. Each detection job
# still checks its model's sha256 before loading it.
models_dir=$(.venv/bin/python -c 'import yaml; c = yaml.safe_load(open("config/config.yaml")) or {}
print((c.get("models") or {}).get("dir") or "resources/models")')
staged_state() {
  { cat Snakefile workflow/rules/*.smk workflow/scripts/stage_*.py config/config.yaml $(find src/btb -name '*.py' | sort)
    echo "mirror=${BTB_MODEL_MIRROR:-} models=$models_dir"
    find "$models_dir" -maxdepth 1 -type f ! -name .btb-staged -printf '%f %s %T@\n' 2>/dev/null | sort
  } | sha256sum | cut -d' ' -f1
}
if [ "${BTB_SKIP_MODELS:-0}" != 1 ]; then
  mstamp="$models_dir/.btb-staged"
  if [ ! -f "$mstamp" ] || [ "$(cat "$mstamp")" != "$(staged_state)" ]; then
    log=$(mktemp)
    if ! .venv/bin/python -m snakemake --quiet --cores 1 --snakefile Snakefile stage_models >"$log" 2>&1; then
      cat "$log" >&2; rm -f "$log"
      say "model staging failed (offline? set BTB_MODEL_MIRROR to a folder with the model files)"; exit 1
    fi
    rm -f "$log"
    staged_state > "$mstamp"
  fi
fi
say "ready"
