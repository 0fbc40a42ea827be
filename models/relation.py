"""The `directus_relations` table: what data is linked to what other data."""

from sqlalchemy import BigInteger, Column, Index, Integer, String
from sqlmodel import Field, SQLModel

# PostgreSQL compares and sorts with the "C" collation so that text order is code-point
# order, exactly like SQLite's BINARY collation: both backends give the same answers.
_ID_TYPE = BigInteger().with_variant(Integer(), "sqlite")


def _text(length: int) -> String:
    """A VARCHAR of `length` characters with byte-order collation on PostgreSQL."""
    return String(length).with_variant(String(length, collation="C"), "postgresql")


#: The Directus collection name: the table's name, and `meta.collection` in responses.
COLLECTION = "directus_relations"


class Relation(SQLModel, table=True):
    """One relation row; column lengths follow Directus 7 (64/45/64/64/64)."""

    __tablename__ = COLLECTION
    # The schema is made by migrations/ (tests/test_migrations.py checks they agree).
    # Indexes serve filtered lists by either side of a relation (migration 0002).
    # AUTOINCREMENT: a deleted id is never handed out again (as with MySQL AUTO_INCREMENT).
    __table_args__ = (
        Index("ix_directus_relations_collection_many", "collection_many", "field_many"),
        Index("ix_directus_relations_collection_one", "collection_one", "field_one"),
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(
        default=None, sa_column=Column("id", _ID_TYPE, primary_key=True, autoincrement=True)
    )
    collection_many: str = Field(sa_column=Column("collection_many", _text(64), nullable=False))
    field_many: str = Field(sa_column=Column("field_many", _text(45), nullable=False))
    collection_one: str | None = Field(
        default=None, sa_column=Column("collection_one", _text(64), nullable=True)
    )
    field_one: str | None = Field(
        default=None, sa_column=Column("field_one", _text(64), nullable=True)
    )
    junction_field: str | None = Field(
        default=None, sa_column=Column("junction_field", _text(64), nullable=True)
    )


#: The six columns in their canonical order (the order of every response object).
COLUMNS: tuple[str, ...] = (
    "id",
    "collection_many",
    "field_many",
    "collection_one",
    "field_one",
    "junction_field",
)
