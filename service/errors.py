"""The closed family of API errors and the one table that maps them to HTTP.

Every error the API can answer is a member of :class:`Code`: its stable numeric code, its
HTTP status and its default message. Handlers and middleware raise :class:`ApiError` with a
member; one handler in ``service.app`` renders it as ``{"error": {"code", "message"}}``.
The README and ``openapi.yaml`` list the same table; ``tests/test_docs.py`` checks them.
"""

from __future__ import annotations

from enum import Enum

from models import COLLECTION


class Code(Enum):
    """Error codes: (code, HTTP status, default message)."""

    INTERNAL = (0, 500, "Internal Server Error")
    ROUTE_NOT_FOUND = (1, 404, "Not Found")
    BAD_QUERY = (2, 400, "Bad Request")
    REQUIRED_BLANK = (4, 422, "This value should not be blank.")
    METHOD_NOT_ALLOWED = (6, 405, "Method Not Allowed")
    UNPROCESSABLE = (12, 422, "Unprocessable Entity")
    INVALID_PAYLOAD = (13, 400, "Invalid or Empty Payload")
    UNKNOWN_PROJECT = (24, 404, "Unknown project")
    INVALID_TOKEN = (101, 401, "Invalid Authentication Token")
    NOT_AUTHENTICATED = (108, 401, "User not authenticated")
    INVALID_FIELD = (202, 422, "Invalid field")
    ITEM_NOT_FOUND = (203, 404, "Item not found")
    DUPLICATE_KEY = (204, 409, "Duplicate key")
    ARRAY_VALUE = (213, 422, "Attempting to write an array as a value")
    UNKNOWN_FILTER = (214, 422, "Unknown filter")
    READ_DENIED = (300, 403, 'Reading items from "directus_relations" collection was denied')
    CREATE_DENIED = (301, 403, 'Creating item to "directus_relations" collection was denied')
    UPDATE_DENIED = (302, 403, 'Updating item from "directus_relations" collection was denied')
    DELETE_DENIED = (303, 403, 'Deleting item from "directus_relations" collection was denied')
    INVALID_PARAMETER = (900, 422, "Invalid query parameter")
    PAYLOAD_TOO_LARGE = (901, 413, "Request body too large")
    UNSUPPORTED_MEDIA_TYPE = (902, 415, "Unsupported media type: send application/json")
    QUERY_TOO_LARGE = (903, 422, "Query too large")
    STORAGE_UNAVAILABLE = (904, 503, "Storage unavailable, retry later")
    STORAGE_FULL = (905, 507, "Storage full")
    STATEMENT_TIMEOUT = (906, 503, "Statement timed out")
    QUERY_STRING_TOO_LONG = (907, 414, "Query string too long")
    SCHEMA_TOO_NEW = (
        908, 503, "The project's database schema is newer than this server; upgrade the server"
    )
    STORAGE_READ_ONLY = (909, 503, "Storage is read-only; reads still work, retry writes later")
    STORAGE_BUSY = (910, 503, "Storage busy, retry later")

    def __init__(self, code: int, status: int, message: str) -> None:
        self.code = code
        self.status = status
        self.message = message


class ApiError(Exception):
    """An error answered to the client; never carries SQL, paths or tracebacks."""

    def __init__(
        self, kind: Code, message: str | None = None, headers: dict[str, str] | None = None
    ) -> None:
        self.kind = kind
        self.message = message or kind.message
        self.headers = headers or {}
        super().__init__(self.message)

    @property
    def status(self) -> int:
        """The HTTP status of this error."""
        return self.kind.status

    def body(self) -> dict[str, dict[str, object]]:
        """The error envelope."""
        return {"error": {"code": self.kind.code, "message": self.message}}




def invalid_field(name: str) -> ApiError:
    """422/202 for a field name that is not a column."""
    return ApiError(Code.INVALID_FIELD, f'Invalid field "{name}" in "{COLLECTION}"')


def item_not_found(item_id: object) -> ApiError:
    """404/203 for a missing id."""
    return ApiError(Code.ITEM_NOT_FOUND, f'Item with id "{item_id}" not found')
