"""SQLModel tables, one per module."""

from models.relation import COLUMNS, Relation
from models.state import State
from models.token import ROLES, Token

__all__ = ["COLUMNS", "ROLES", "Relation", "State", "Token"]
