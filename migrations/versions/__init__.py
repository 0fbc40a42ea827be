"""Revisions, oldest first: ``0001`` ... ``NNNN``, each one transaction."""
