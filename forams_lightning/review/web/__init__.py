"""The live review's web adapter: a local Flask app (routes, the guard, autoescaped templates, static files) over
`review.session.LiveReview` and `review.audit_session.AuditReview`. No domain logic here."""

from __future__ import annotations

from typing import TYPE_CHECKING

from forams_lightning.exports import lazy_exports

_API = {
    "app": ["create_app"],
    "audit_app": ["create_audit_app"],
    "serving": ["start_audit_server", "start_server"],
}
__all__ = ["create_app", "create_audit_app", "start_audit_server", "start_server"]
__getattr__, __dir__ = lazy_exports(__name__, _API)

if TYPE_CHECKING:
    from forams_lightning.review.web.app import create_app
    from forams_lightning.review.web.audit_app import create_audit_app
    from forams_lightning.review.web.serving import start_audit_server, start_server
