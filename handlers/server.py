"""Server operations: liveness and readiness."""

from starlette.responses import PlainTextResponse, Response

from service import health as readiness
from service.http import current_app, json_response


async def ping() -> PlainTextResponse:
    """Liveness: no I/O, no auth."""
    return PlainTextResponse("pong")


def health() -> Response:
    """Readiness: one cheap query per database in use, within a short deadline; no auth."""
    app = current_app()
    report = readiness.check(app.projects, app.settings.health_timeout_s)
    headers = {"Cache-Control": "no-store"}
    if not report.ok:
        headers["Retry-After"] = "1"
    return json_response(report.body, 200 if report.ok else 503, headers)
