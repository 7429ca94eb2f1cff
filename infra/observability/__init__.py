"""Logs, metrics and progress bars."""
