"""Analyses of the event log: the plan's success metrics and the creator dashboard."""
