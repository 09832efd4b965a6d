"""Typed events a run emits, and the sinks that receive them (console, store, Kubernetes status)."""

from autopack.events.catalog import *  # noqa: F403 - the catalog is the package's surface
