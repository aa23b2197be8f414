"""Alembic environment: runs on the connection :func:`facehealth.serve.db.upgrade` hands over."""

from alembic import context

from facehealth.serve.orm import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
