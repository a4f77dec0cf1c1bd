# The two commands a new machine needs: `make demo` and `make test`. Both bootstrap on first use.
SHELL := /bin/bash
.DEFAULT_GOAL := help

.PHONY: help bootstrap demo test bench sanity units lint integration molecule build clean

help:
	@echo "make demo   - start the embedded test cluster and run the main job (fleet recovery) against it"
	@echo "make test   - run every quality gate: sanity, units, lint, changelog, test bed, integration (Helm 3 and 4), molecule, build"
	@echo "make bench  - benchmark the modules against bare helm (not part of make test)"

bootstrap:
	@hack/bootstrap.sh

demo: bootstrap
	@hack/demo.sh

test: bootstrap
	@hack/test.sh

bench: bootstrap
	@hack/bench.sh

# Single gates, for a faster loop while developing (same commands make test runs)
sanity units lint integration molecule build: bootstrap
	@hack/test.sh $@

clean:
	rm -rf .venv .cache build tests/output .pytest_cache
