"""The test rig: local servers, a local care organisation, the demo and the detector evaluation.

Nothing in `edge/` or `hub/` imports it; it may import everything, simulators included."""
