"""The docs team's console at ``/admin``: what users ask, where the docs fail them, and real
conversations reviewed into evaluation cases.

Server-rendered Jinja2 pages (``templates/``) with htmx for boosted navigation and uPlot for the
charts, both vendored from npm into ``static/`` (no CDN: the console works with no network). Every
figure is a SQL aggregate (:mod:`nectarine.store.analytics`); questions are grouped by meaning with
the ``gaps`` command's clustering (:mod:`.clusters`); reviewed answers export as a BEIR dataset
(:mod:`.export`). Signing in exchanges the admin token for a session cookie (:mod:`.auth`).

Mounted by the service's app factory: ``app.include_router(nectarine.console.router)``.
"""

from .routes import router

__all__ = ["router"]
