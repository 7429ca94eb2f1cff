"""Adapters and the composition root: everything that touches the outside world."""
