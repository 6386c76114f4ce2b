"""bedwatch: remote watch over home care beds."""

__version__ = "0.1.0"
