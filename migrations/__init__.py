"""Alembic migrations of a project database (run by ``service.migrate``, never by hand).

``env.py`` and ``script.py.mako`` ship with the package; ``alembic.ini`` beside them is only
for authoring new revisions (``alembic -c migrations/alembic.ini revision ...``).
"""
