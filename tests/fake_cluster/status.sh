#!/usr/bin/env bash
# Fake cluster status command: running until the job wrote its exit status; then success or failed.
f="$FAKE_CLUSTER_DIR/$1.status"
if [ ! -f "$f" ]; then echo running; elif [ "$(cat "$f")" = 0 ]; then echo success; else echo failed; fi
