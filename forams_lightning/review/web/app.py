"""The live review's routes: pages rendered by Jinja templates (autoescaped), a JSON API over
`review.session.LiveReview`, and thumbnails made on first request. Thin: every decision, and its saving, is the
review's."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from flask import Flask, abort, jsonify, render_template
from flask.typing import ResponseReturnValue

from forams_lightning.review.session import Change, LiveReview
from forams_lightning.review.web.common import Images, json_body, protect, whole

SPECIMEN_PX, REFERENCE_PX = 320, 112


def create_app(review: LiveReview, *, token: str, reviewer: str, hosts: set[str], thumbnails: Path,
               on_census: Callable[[], list | None] | None = None) -> Flask:
    """The live review's app.

    Args:
        review: the review it serves (which keeps its own changes).
        token: the per-launch token every request carries.
        reviewer: the name recorded with every verdict.
        hosts: the Host headers accepted ("*": any).
        thumbnails: where images are cached (the run folder's).
        on_census: writes the census files and returns their rows (None: the sample has no samples).
    """
    app = Flask(__name__)
    protect(app, token, hosts)

    @app.get("/", defaults={"view": "specimens"})
    @app.get("/<any(groups):view>")
    def page(view: str) -> ResponseReturnValue:
        return render_template("review.html", token=token, reviewer=reviewer, species=review.library.species,
                               view=view)

    @app.get("/api/state")
    def state() -> ResponseReturnValue:
        return jsonify(_state(review))

    @app.get("/api/specimen/<int:i>")
    def specimen(i: int) -> ResponseReturnValue:
        return jsonify({**review.specimen(i), "candidates": review.candidates(i)})

    @app.get("/api/groups")
    def groups() -> ResponseReturnValue:
        return jsonify(_groups(review))

    @app.post("/api/census")
    def census() -> ResponseReturnValue:
        rows = on_census() if on_census else None
        return jsonify({"rows": rows, "message": "census.csv and census.png written" if rows is not None
                        else "this sample has no samples (images in one sub-folder per sample give a census)"})

    _decision_routes(app, review, reviewer)
    _image_routes(app, review, Images(thumbnails, review.library.preprocessing.get("exif_transpose", True)))
    return app


def _decision_routes(app: Flask, review: LiveReview, reviewer: str) -> None:
    """Verdicts, group verdicts, undo and skip: each the review's own decision (it keeps its changes)."""
    @app.post("/api/verdict")
    def verdict() -> ResponseReturnValue:
        given = json_body()
        changes = review.decide(whole(given, "id"), str(given.get("species", "")), reviewer)
        return _changed(review, changes)

    @app.post("/api/group")
    def group() -> ResponseReturnValue:
        given = json_body()
        changes = review.decide_group(str(given.get("group", "")), str(given.get("species", "")), reviewer)
        return _changed(review, changes)

    @app.post("/api/undo")
    def undo() -> ResponseReturnValue:
        ids = json_body().get("ids")
        if not isinstance(ids, list):
            abort(400)
        return _changed(review, review.undo([whole({"id": i}, "id") for i in ids]))

    @app.post("/api/skip")
    def skip() -> ResponseReturnValue:
        review.skip(whole(json_body(), "id"))
        return jsonify(_state(review))


def _image_routes(app: Flask, review: LiveReview, images: Images) -> None:
    """Thumbnails of the sample's specimens and the library's references, by index."""
    @app.get("/image/specimen/<int:i>")
    def specimen_image(i: int) -> ResponseReturnValue:
        return images.send(review.files[i] if 0 <= i < len(review.files) else None, SPECIMEN_PX)

    @app.get("/image/reference/<int:g>")
    def reference_image(g: int) -> ResponseReturnValue:
        library = review.library
        if not 0 <= g < len(library.files):
            abort(404)
        return images.send(library.files[g], REFERENCE_PX, library.thumbnail(g))


def _changed(review: LiveReview, changes: list[Change]) -> ResponseReturnValue:
    files = review.files
    return jsonify({**_state(review),
                    "changes": [{"id": c.specimen, "file": Path(files[c.specimen]).name, "before": c.before,
                                 "after": c.after} for c in changes]})


def _state(review: LiveReview) -> dict:
    saved = review.keeper.status() if review.keeper else {"library_saved": False, "sync_error": "not kept"}
    return {**review.progress(), "order": review.order(), **saved}


def _groups(review: LiveReview) -> list[dict]:
    with review.lock:
        return [{"group": g.name, "members": [int(i) for i in g.members],
                 "candidates": [c["species"] for c in review.candidates(int(g.members[0]))][:9]}
                for g in review.groups()]
