"""Data fixtures: write_jsonl, sample rows, plugin manager (filled in by the formats work)."""
