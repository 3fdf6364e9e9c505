"""Blur regions: box geometry, the detection and region tables, cascade selection, merging, temporal coverage
and the blur itself."""
