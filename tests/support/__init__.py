"""Helpers shared by test modules (test modules never import each other, nor conftest.py).

``paths`` (the repository, ``FIXTURES``, ``KB``), ``live`` (uvicorn on loopback, an SSE reader),
``browser`` (Debian's Chromium through Playwright), ``receivers`` (a webhook receiver and an SMTP inbox),
``guards`` (the fast tier's refusal of the real model).
"""
