"""The Directus 7 query language, pure Python: parse -> typed tree -> SQLAlchemy -> shape."""
