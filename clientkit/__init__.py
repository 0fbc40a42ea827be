"""Committed sources for the generated clients and the live checks (make clients, tests)."""
