"""The names of the synthetic labeled clips (``btb.evaluation.synthetic`` makes them).

Kept apart so that the workflow can plan the evaluation without importing the video stack: every Snakemake
process (and every cluster job's own Snakemake) parses the workflow, and OpenCV and pandas would add about
17 MB and 50 ms to each."""

SCENE_NAMES: tuple[str, ...] = ("syn_occluder", "syn_turn", "syn_fast", "syn_small", "syn_edge")
