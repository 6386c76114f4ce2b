# The two commands of the README. Each installs what it needs first (idempotently).
.PHONY: demo test bootstrap lint bench mutation clean

VENV := .venv/bin

bootstrap:
	@scripts/bootstrap.sh edge,hub,dev

demo: bootstrap
	$(VENV)/bedwatch demo

test:
	@scripts/bootstrap.sh edge,hub,dev browser
	$(VENV)/python -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

lint: bootstrap
	$(VENV)/ruff check bedwatch edge hub rig firmware-sim tests bench scripts
	$(VENV)/mypy

bench: bootstrap
	@for b in bench/*.py; do echo "== $$b"; $(VENV)/python $$b || exit 1; done

# Mutation testing of the safety-critical modules (sampled; about half an hour on 2 cores).
mutation: bootstrap
	$(VENV)/python scripts/mutation.py $(MUTATION_ARGS)

clean:
	rm -rf .venv build *.egg-info var
