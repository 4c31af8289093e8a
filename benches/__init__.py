"""Benchmarks: brightingest side by side with what users would pick instead.

- ``benches/generate.py``: seeded, realistic datasets in every built-in format, at any size,
  cached outside the repository (``$BRIGHTINGEST_BENCH_DATA`` or ``~/.cache/brightingest-bench``).
- ``benches/peers.py``: the same normalized chat messages built with json, orjson, pyarrow,
  polars, DuckDB and Hugging Face ``datasets``, and the brightingest operations they face.
- ``benches/test_*.py``: pytest-benchmark at small sizes, for regression tracking
  (``pytest benches/ --benchmark-only``).
- ``benches/compare.py``: every contender in a fresh process on the same files; writes
  ``benches/RESULTS.md`` and ``benches/results.png`` (``python -m benches.compare``).
"""
