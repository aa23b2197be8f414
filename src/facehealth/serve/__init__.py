"""The private service: accounts, people, photo analyses and person reports over HTTP.

``facehealth serve`` runs :func:`facehealth.serve.app.create_app` under uvicorn. Nothing heavy is
imported here, so ``facehealth --help`` stays fast.
"""

__all__: list[str] = []
