"""Failure hardening: signatures, deterministic mitigations, replanning and the health budget."""
