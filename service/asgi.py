"""The ASGI entry point for uvicorn workers: ``service.asgi:app`` (settings from env)."""

import gc
import sys
import warnings

# Connexion imports Starlette's test client, which warns about httpx on every start.
warnings.filterwarnings("ignore", message=".*httpx2.*")

from service.app import create_app  # noqa: E402

app = create_app()
app.log_requests_to(sys.stderr.fileno())  # one write per line, not a logging record
# Everything built so far (the spec, Connexion's operations, SQLAlchemy's caches) lives as
# long as the process: keep it out of the cyclic GC's generations, whose full passes over it
# were the longest pauses under load.
gc.collect()
gc.freeze()
