"""Operation handlers, resolved by operationId (``handlers.<operationId>``)."""

from handlers.relations import (
    create_relations,
    delete_relations,
    get_relations,
    list_relations,
    update_relations,
    update_relations_batch,
)
from handlers.server import health, ping

__all__ = [
    "create_relations",
    "delete_relations",
    "get_relations",
    "health",
    "list_relations",
    "ping",
    "update_relations",
    "update_relations_batch",
]
