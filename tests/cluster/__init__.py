"""The emulated Kubernetes cluster of the operator tests: API server, kubelet, harness."""
