"""The ASGI entry point for uvicorn workers: ``service.asgi:app`` (settings from env)."""

import gc

from service.app import create_app

app = create_app()
# Everything built so far (the spec, Connexion's operations, SQLAlchemy's caches) lives as
# long as the process: keep it out of the cyclic GC's generations, whose full passes over it
# were the longest pauses under load.
gc.collect()
gc.freeze()
