"""Model files: sources and pins, staging, conversion, and the graph digest of converted models."""
