"""bedwatch hub: the care organisation's central service."""
