"""After blurring: residual verification of the output, the release gate, reviewers' decisions, QA reports."""
