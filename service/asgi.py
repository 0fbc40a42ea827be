"""The ASGI entry point for uvicorn workers: ``service.asgi:app`` (settings from env)."""

from service.app import create_app

app = create_app()
