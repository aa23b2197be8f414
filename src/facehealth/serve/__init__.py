"""The private service: accounts, people, photo analyses and person reports over HTTP.

    facehealth serve create-admin --email me@example.org     # first account (FACEHEALTH_ADMIN_PASSWORD or prompt)
    facehealth serve --model runs/x/finetune/checkpoint-best.safetensors   # http://127.0.0.1:8000

Data (SQLite in WAL mode, the generated secret key) lives in ``--data-dir`` / ``FACEHEALTH_DATA_DIR``
(default ``~/.facehealth``); ``DATABASE_URL`` selects PostgreSQL instead. Other settings:
``FACEHEALTH_SECRET_KEY``, ``FACEHEALTH_MODEL``, ``FACEHEALTH_ACCESS_MINUTES``,
``FACEHEALTH_CORS_ORIGINS`` (see :mod:`facehealth.serve.settings`). The API is described at
``/openapi.json``; the web page is ``/``.

Layout (after the FastAPI template): ``settings``, ``security`` and ``throttle`` (core), ``orm`` and
``migrations`` (schema), ``accounts`` and ``analyses`` (database operations), ``deps`` (request
dependencies), ``errors`` (every HTTP error), ``routes/`` (one router per resource), ``app``.
Nothing heavy is imported here, so ``facehealth --help`` stays fast.
"""

__all__: list[str] = []
