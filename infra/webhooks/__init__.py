"""Outbound webhooks: sealing their secrets, signing deliveries (Standard Webhooks), and
posting them to receivers without reaching private addresses."""
