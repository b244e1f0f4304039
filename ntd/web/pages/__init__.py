"""The portal's pages: server-rendered HTML for brands, the platform's staff, sellers and
auditors, over the same application service as the CLI and the API.

A page parses its query or form (ntd/web/forms.py), calls the service or ntd.reads, and renders
a template; the service checks every permission. The pages decide only which links and forms
to offer, from the same permission and lifecycle tables, so nothing is offered that the service
would refuse for the user's roles or the case's state; what is offered is still checked there.
Every form carries the session's CSRF value and, after it succeeds, redirects (post-redirect-
get); a refused form is shown again with each problem next to its field.

One module per section, each registering its routes on the one `router` of common.py when
imported; SECTIONS is their order, which matters: /brand/notice before /brand/{notifier_id}."""

import importlib

from ntd.web.pages.common import router

SECTIONS = ("login", "brand", "notice", "staff", "seller", "case", "audit")
for _section in SECTIONS:
    importlib.import_module(f"ntd.web.pages.{_section}")

__all__ = ["router"]
