# Shortcuts; every target is a script in scripts/ that does its own set-up.
.PHONY: test demo images e2e

# The whole test suite (what CI runs).
test:
	scripts/test.sh

# The offline demo run.
demo:
	scripts/demo.sh

# Build autopack/operator:dev and autopack/runner:dev with the local Docker engine.
images:
	scripts/build-images.sh

# End to end on a kind cluster (skipped with a message where kind is absent).
e2e:
	scripts/e2e-kind.sh
