"""One function per workflow stage: read the inputs, call the package, write the outputs atomically and an audit
record. Each module serves rules of one conda environment (named in its docstring), so that a job imports
only what its environment holds; ``workflow/scripts/`` are thin adapters onto these."""
