"""How relations-api is hosted: app factory, settings, projects, errors, CLI."""
