"""Root conftest: shared fixtures for tests/, plugins/*/tests and trainer/tests.

Fixture modules live in tests/_support/ (one owner each):
- tests/_support/http.py: a real HTTP server on loopback with programmable routes.
- tests/_support/data.py: write_jsonl(), sample rows, the `pm` plugin-manager fixture.
"""

pytest_plugins = ["tests._support.http", "tests._support.data"]
