"""Alembic's environment: migrations run on the connection `sourcier.database.migrate` hands over (never a URL of
its own), so that the application and `alembic` agree on the database."""

from alembic import context

connection = context.config.attributes["connection"]
context.configure(connection=connection, render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
