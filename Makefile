# The two commands a newcomer needs: `make demo` and `make test`. Both bootstrap .venv first.
.PHONY: demo test lint bench clean

demo:
	@scripts/bootstrap.sh
	.venv/bin/sentinel demo

test:
	@scripts/bootstrap.sh --with-test
	.venv/bin/python -m pytest

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
