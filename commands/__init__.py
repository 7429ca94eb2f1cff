"""Command handlers: one module per command. Load, decide, save; no HTTP here."""
