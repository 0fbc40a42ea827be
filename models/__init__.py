"""SQLModel tables, one per module."""

from models.relation import COLLECTION, COLUMNS, Relation
from models.state import State
from models.token import ROLES, Token

__all__ = ["COLLECTION", "COLUMNS", "ROLES", "Relation", "State", "Token"]
