# The README's two commands call `make demo` and `make test`.
PY ?= python3
PIP ?= $(PY) -m pip
CARGO_MANIFEST = rust_core/Cargo.toml
SAMPLE = examples/brightrun_v4_sample.jsonl

.PHONY: demo install-test test test-rust test-python lint format build-dev build-prod bench

## Install brightingest and run the main job on the sample that ships in the repo.
demo:
	$(PIP) install --quiet .
	$(PY) -m brightingest inspect $(SAMPLE)
	mkdir -p out
	$(PY) -m brightingest convert $(SAMPLE) -o out/sample.openai.jsonl --to openai
	@echo "wrote out/sample.openai.jsonl"

## Install everything the tests need (the package editable; the [test,train] extras; [bench],
## whose peers' correctness is tested in tests/benches; the third-party plugin in plugins/),
## then run every test: Rust, then Python.
install-test:
	$(PIP) install --quiet -e ".[test,train,bench]"
	$(PIP) install --quiet -e plugins/brightingest-trl

test: install-test test-rust test-python

test-rust:
	cargo test --manifest-path $(CARGO_MANIFEST)

test-python:
	$(PY) -m pytest

build-dev:
	maturin develop --uv

build-prod:
	maturin develop --uv --release

format:
	ruff format python tests benches trainer plugins
	ruff check --fix python tests benches trainer plugins
	cargo fmt --manifest-path $(CARGO_MANIFEST)

lint:
	ruff check python tests benches trainer plugins
	ruff format --check python tests benches trainer plugins
	mypy
	$(PY) -m mypy.stubtest brightingest._core
	cargo fmt --manifest-path $(CARGO_MANIFEST) --check
	cargo clippy --manifest-path $(CARGO_MANIFEST) --all-targets -- -D warnings
	cargo clippy --manifest-path $(CARGO_MANIFEST) --lib --features python -- -D warnings

bench:
	$(PIP) install --quiet -e ".[bench]"
	$(PY) -m pytest benches --benchmark-only -p no:cacheprovider
	$(PY) -m benches.compare
