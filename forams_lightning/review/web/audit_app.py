"""The audit view: the library's suspect references one at a time, each edited by one key through the library's own
editing (`review.audit_session`). Same guard and keys as the live review."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from flask import Flask, abort, jsonify, render_template
from flask.typing import ResponseReturnValue

from forams_lightning.review.audit_session import AuditReview
from forams_lightning.review.web.common import Images, json_body, protect, whole


def create_audit_app(audit: AuditReview, *, token: str, reviewer: str, hosts: set[str],
                     thumbnails: Path) -> Flask:
    """The audit view's app (the arguments as `review.web.app.create_app`'s).

    Args:
        audit: the audit session it serves.
        token: the per-launch token every request carries.
        reviewer: who decides.
        hosts: the Host headers accepted ("*": any).
        thumbnails: where images are cached.
    """
    app = Flask(__name__)
    protect(app, token, hosts)
    images = Images(thumbnails, audit.library.preprocessing.get("exif_transpose", True))

    @app.get("/")
    def page() -> ResponseReturnValue:
        return render_template("audit.html", token=token, reviewer=reviewer, species=audit.library.species)

    @app.get("/api/audit")
    def rows() -> ResponseReturnValue:
        at = {f: g for g, f in enumerate(audit.library.files)}
        return jsonify({"rows": [{**asdict(row), "reference": at.get(row.file),
                                  "decision": audit.decisions.get(i, (None,))[0]} for i, row in enumerate(audit.rows)]})

    @app.get("/api/audit/<int:i>")
    def row(i: int) -> ResponseReturnValue:
        return jsonify({"neighbours": audit.neighbours(i)})

    @app.post("/api/audit/decide")
    def decide() -> ResponseReturnValue:
        given = json_body()
        audit.decide(whole(given, "row"), str(given.get("action", "")), given.get("species"))
        return jsonify({"ok": True})

    @app.post("/api/audit/undo")
    def undo() -> ResponseReturnValue:
        audit.undo(whole(json_body(), "row"))
        return jsonify({"ok": True})

    @app.get("/image/reference/<int:g>")
    def reference_image(g: int) -> ResponseReturnValue:
        library = audit.library
        if not 0 <= g < len(library.files):
            abort(404)
        return images.send(library.files[g], 160, library.thumbnail(g))

    return app
