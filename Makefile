# The two commands a newcomer needs: `make demo` and `make test`. Both bootstrap .venv first.
.PHONY: demo test lint bench clean

demo:
	@scripts/bootstrap.sh
	.venv/bin/sentinel demo

# Two workers, each test file on one of them (module-scoped emulators and daemons stay shared):
# about 5 min instead of 8 on 2 cores. Most of the suite waits on Chromium and kernels.
test:
	@scripts/bootstrap.sh --with-test
	.venv/bin/python -m pytest -n 2 --dist loadfile

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
