"""Server operations: liveness."""

from starlette.responses import PlainTextResponse


async def ping() -> PlainTextResponse:
    """Liveness: no I/O, no auth."""
    return PlainTextResponse("pong")
