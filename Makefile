# The two commands a new machine needs: `make demo` and `make test`. Both bootstrap on first use.
SHELL := /bin/bash
.DEFAULT_GOAL := help

.PHONY: help bootstrap control-plane helm-matrix demo test check bench sanity units lint cluster integration helm_matrix molecule build clean

help:
	@echo "make demo   - start the embedded test cluster and run the main job (fleet recovery) against it"
	@echo "make test   - run every quality gate: sanity, units, lint, changelog, test bed, integration (Helm 3 and 4), the Helm version matrix, molecule, build"
	@echo "make check  - the loop for every edit (at most 5 minutes): units, lint, sanity on the changed files, one integration target per Helm major"
	@echo "make bench  - benchmark the modules against bare helm (not part of make test)"
	@echo "make demo MATIH_DEMO_CLUSTER=controlplane - the demo on the real control plane instead of the emulator"

bootstrap:
	@hack/bootstrap.sh

# The real Kubernetes control plane (etcd, kube-apiserver, controller manager, scheduler, kwok),
# built from Go modules on first use (minutes) and cached outside the work tree (seconds after).
control-plane: bootstrap
	@hack/control-plane-build.sh >/dev/null

# The Helm versions of the matrix gate (hack/helm-matrix.sh): fetched, or built from Go modules on
# first use (minutes), cached outside the work tree.
helm-matrix: bootstrap
	@hack/helm-matrix.sh >/dev/null

demo: bootstrap
	@hack/demo.sh

test: control-plane helm-matrix
	@hack/test.sh

bench: control-plane
	@hack/bench.sh

# The fast loop while developing; make test (the whole suite, 35 minutes) once or twice per change
check: control-plane
	@hack/test.sh units lint sanity_changed smoke

# Single gates, for a faster loop while developing (same commands make test runs)
sanity units lint build: bootstrap
	@hack/test.sh $@

cluster integration molecule: control-plane
	@hack/test.sh $@

helm_matrix: control-plane helm-matrix
	@hack/test.sh $@

clean:
	rm -rf .venv .cache build tests/output .pytest_cache
