"""The HTTP service: a thin FastAPI shell over the library, and the chat panel it serves.

    uvicorn --factory nectarine.api:create_app --host 127.0.0.1 --port 8000 --no-proxy-headers

Where things live: ``app`` (the factory, middleware, the error path, lifespan), ``deps`` (site key,
client address, rate limits, admin, the loaded assistant), ``schemas`` (every request and response,
with its limits), ``routes/`` (one module per audience). Settings: ``nectarine.settings``.
"""

from ..settings import Settings
from .app import create_app

__all__ = ["Settings", "create_app"]
