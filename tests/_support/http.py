"""Loopback HTTP server fixture (filled in by the sources work)."""
