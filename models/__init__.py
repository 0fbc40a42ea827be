"""SQLModel tables, one per module."""

from models.relation import COLUMNS, Relation

__all__ = ["COLUMNS", "Relation"]
