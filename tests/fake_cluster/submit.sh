#!/usr/bin/env bash
# Fake cluster submit command (Snakemake cluster-generic executor): runs the job script in the background
# and prints a job id; the exit status lands in $FAKE_CLUSTER_DIR/<id>.status for status.sh.
set -u
id="job$(date +%s%N)$RANDOM"
( bash "$1" > "$FAKE_CLUSTER_DIR/$id.out" 2>&1; echo $? > "$FAKE_CLUSTER_DIR/$id.status" ) &
echo "$id"
