"""bedwatch edge agent: runs on the Raspberry Pi in the elder's home."""

__version__ = "0.1.0"
