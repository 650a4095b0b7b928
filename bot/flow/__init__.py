"""Flows: the YAML files, their checking, the shared state machine, hours and recognition."""
