# The two commands a newcomer needs: `make demo` and `make test`. Both bootstrap .venv first.
.PHONY: demo test test-jupyter lint bench clean image

demo:
	@scripts/bootstrap.sh
	.venv/bin/sentinel demo

# Two workers, each test file on one of them (module-scoped emulators and daemons stay shared):
# about 5 min instead of 8 on 2 cores. Most of the suite waits on Chromium and kernels.
test:
	@scripts/bootstrap.sh --with-test
	.venv/bin/python -m pytest -n 2 --dist loadfile -m "not docker and not jupyter" --durations=15

# Against real servers started by the tests: a JupyterLab (about 3 min on 2 cores). CI runs it after
# `make test`; the image's tests (marker docker) need an engine and run last (.ci/run).
test-jupyter:
	@scripts/bootstrap.sh --with-test
	.venv/bin/python -m pytest -n 2 --dist loadfile -m jupyter

lint:
	@scripts/bootstrap.sh --with-test
	.venv/bin/ruff check sentinel tests bench
	.venv/bin/ruff format --check sentinel tests bench
	.venv/bin/mypy sentinel

bench:
	@scripts/bootstrap.sh --with-test
	.venv/bin/python -m bench

clean:
	rm -rf .venv .pytest_cache .mypy_cache .ruff_cache

# The container image, colab-sentinel:local (docs/deploy.md). Debian's docker.io client has BuildKit
# built in; a newer client without the buildx plugin does not, so prefer /usr/bin/docker. Where pip
# trusts an extra CA bundle (a TLS-intercepting proxy), it reaches the build as a secret, never a layer.
DOCKER ?= $(shell test -x /usr/bin/docker && echo /usr/bin/docker || echo docker)
IMAGE ?= colab-sentinel:local
comma := ,
PIP_CA ?= $(shell (python3 -m pip config get global.cert 2>/dev/null || echo "$$PIP_CERT") | head -n1)
image:
	DOCKER=$(DOCKER) scripts/base-image.sh debian:bookworm-slim
	DOCKER_BUILDKIT=1 $(DOCKER) build --network host -f docker/Dockerfile -t $(IMAGE) \
		$(if $(wildcard $(PIP_CA)),--secret id=pip_ca$(comma)src=$(PIP_CA)) .
