"""SQLModel tables, one per module."""

from models.relation import COLUMNS, Relation
from models.token import ROLES, Token

__all__ = ["COLUMNS", "ROLES", "Relation", "Token"]
