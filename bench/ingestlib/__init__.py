"""The parts of bench/ingest.py (the backlog drain) that bench/fleet.py shares."""
