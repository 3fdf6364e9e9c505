#!/bin/bash
# Wall time of whole workflow runs of two commits, alternating A B A B ... on the same clip, a fresh results
# folder each run: on a shared machine whose speed drifts by a quarter within minutes, only runs interleaved
# like this compare two versions. The model rules are kept out (--allowed-rules), and each version's jobs import
# its own src (PYTHONPATH; the editable install would give both the working tree's), as stage_fps.py does.
# Needs bash 4 or later.
#
#   benchmarks/ab_wall.sh COMMIT_A COMMIT_B MODELS_DIR REPEATS CLIP [CLIP ...]   > results.tsv
#
# MODELS_DIR may be two folders, MODELS_A,MODELS_B, when the versions stage different model files.
# Prints one line per run: clip, version (A or B), repeat, exit status, wall seconds.
set -euo pipefail
[ $# -ge 5 ] || { sed -n 2,11p "$0"; exit 2; }
a=$1 b=$2 reps=$4
IFS=, read -r models_a models_b <<< "$3"
ma=$(cd "$models_a" && pwd)
mb=$(cd "${models_b:-$models_a}" && pwd)
declare -A models=([A]=$ma [B]=$mb)
shift 4
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/btb_ab_XXXXXX)
trap 'rm -rf "$work"' EXIT
declare -A allowed
for v in A B; do
  rev=$a; [ $v = B ] && rev=$b
  mkdir -p "$work/$v" && git -C "$repo" archive "$rev" | tar -x -C "$work/$v"
  allowed[$v]=$(cd "$repo" && .venv/bin/python -c "
import sys; sys.path[:0] = ['benchmarks', 'src']
from pathlib import Path
import stage_fps
print(' '.join(stage_fps.allowed_rules(Path('$work/$v'))))")
done
printf "clip\tversion\trepeat\trc\twall_s\n"
for clip in "$@"; do
  clip=$(cd "$(dirname "$clip")" && pwd)/$(basename "$clip")
  for i in $(seq "$reps"); do
    for v in A B; do
      w=$work/run_$v; rm -rf "$w"; mkdir -p "$w"
      printf "video_id\tpath\nx\t%s\n" "$clip" > "$w/samples.tsv"
      printf "models:\n  dir: %s\n  mirror: ''\n" "${models[$v]}" > "$w/cfg.yaml"
      s=$(date +%s%N); rc=0
      (cd "$work/$v" && PYTHONPATH="$work/$v/src" "$repo/.venv/bin/python" -m snakemake --snakefile Snakefile --profile profiles/default \
        --directory "$w" --cores 2 --configfile "$w/cfg.yaml" --config samples="$w/samples.tsv" \
        --allowed-rules ${allowed[$v]} > "$w/log" 2>&1) || rc=$?
      ms=$(( ($(date +%s%N) - s) / 1000000 ))
      printf "%s\t%s\t%s\t%s\t%d.%d\n" "$(basename "$clip")" "$v" "$i" "$rc" $((ms / 1000)) $((ms % 1000 / 100))
    done
  done
done
