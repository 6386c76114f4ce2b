"""On-device detectors: pure numpy, state in, samples in, events out."""
