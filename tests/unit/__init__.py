"""Unit tests: the domain, the command handlers (over SQLite in a temp file) and the
in-process adapters. No services, fast."""
