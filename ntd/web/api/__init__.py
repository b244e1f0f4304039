"""The HTTP API under /api/v1: each route parses its input, calls one function of the
application service (commands) or of ntd.reads (queries), and answers with the project's
models; errors go through ntd/web/problems.py.

One module per resource, each registering its routes on the one `router` of common.py when
imported; RESOURCES is their order in the OpenAPI document. Every route names the permission
table's row it exercises (`x-permission` in the OpenAPI document); tests/unit/test_web_matrix.py
fails for a route without one. The service checks the row itself; the name here is what the
matrix test and the docs read."""

import importlib

from ntd.web.api.common import router

RESOURCES = ("notices", "cases", "decisions", "steps", "lists", "audit", "access")
for _resource in RESOURCES:
    importlib.import_module(f"ntd.web.api.{_resource}")

__all__ = ["router"]
