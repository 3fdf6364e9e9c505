"""Evaluation on labeled data: the privacy metric, WIDER FACE scoring and AP, method comparisons, the report."""
