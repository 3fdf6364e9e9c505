"""Blur the Baby: auditable face de-identification of research videos."""

__version__ = "0.1.0"
