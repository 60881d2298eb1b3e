# Entry points the README and CI use; the scripts hold the logic.
.PHONY: test test-deps chart demo services services-stop services-status

## test: install and start the real services, then ruff, mypy and pytest (ARGS="..." go to pytest)
test:
	scripts/test.sh $(ARGS)

## test-deps: tests/unit against the lowest and the newest dependency sets (scripts/constraints/)
test-deps:
	scripts/test-deps.sh

## chart: helm lint/template of deploy/kubernetes for every value set, each object strictly validated
chart:
	TAROT_HELM_BIN="$$(deploy/kubernetes/build-helm.sh)" TAROT_K8S_VALIDATE_BIN="$$(deploy/kubernetes/validate/build.sh)" \
		.venv/bin/python -m pytest tests/unit/test_helm_chart.py -q

## demo: run `tarot-monitor demo` (ARGS="..." go to the demo)
demo:
	scripts/demo.sh $(ARGS)

## services: install and start PostgreSQL and Redis for the end-to-end tests
services:
	scripts/services.sh install
	scripts/services.sh start

services-stop:
	scripts/services.sh stop

services-status:
	scripts/services.sh status
