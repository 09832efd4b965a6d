"""The in-pod runner: ``autopack runner --run NAMESPACE/NAME``.

It reads its AutopackRun, clones the repository, normalizes the plan into Phase objects owned
by the run, runs the engine with a Kubernetes status sink, pushes after every completed phase,
and ends with a report in its termination message and exit code 0, 1 or 2.
"""
