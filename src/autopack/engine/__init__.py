"""The run engine: phases become committed, tested code through budgeted model attempts.

It emits typed events to sinks (console, store, Kubernetes status) and never imports kopf or
the Kubernetes client; entry points (CLI, runner) compose it with their sinks.
"""
