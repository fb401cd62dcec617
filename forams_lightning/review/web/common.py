"""What every page of the review app shares: the guard on every request, one-line refusals, request bodies, and
thumbnails made on first request."""

from __future__ import annotations

import hashlib
from pathlib import Path

from flask import Flask, Response, abort, jsonify, request, send_file
from flask.typing import ResponseReturnValue

from forams_lightning.review.web.guard import TOKEN_HEADER, token_matches
from forams_lightning.viz.thumbnails import save_thumbnail


def protect(app: Flask, token: str, hosts: set[str]) -> None:
    """Every request carries the launch token and names this server (`review.web.guard`), its body at most 64 KiB (a
    verdict is a few dozen bytes); a `ValueError` of the domain code answers 400 with its one line."""
    app.config.update(JSON_SORT_KEYS=False, MAX_CONTENT_LENGTH=2**16)

    @app.before_request
    def guard() -> None:
        given = request.args.get("token") or request.headers.get(TOKEN_HEADER)
        if not token_matches(given, token) or ("*" not in hosts and request.host not in hosts):
            abort(403)

    @app.errorhandler(ValueError)
    def refused(error: ValueError) -> ResponseReturnValue:
        # an unknown specimen, a misspelt name, a reference that is gone
        return jsonify({"error": str(error)}), 400


def json_body() -> dict:
    """The request's JSON object (400 where it is none)."""
    given = request.get_json(silent=True)
    if not isinstance(given, dict):
        abort(400)
    return given


def whole(given: dict, key: str) -> int:
    """`given[key]` as a whole number (400 where it is none)."""
    try:
        return int(given[key])
    except (KeyError, TypeError, ValueError):
        abort(400)


class Images:
    """JPEG thumbnails of specimens and references, made once into the run folder's review_files/ (where the
    static review keeps its own) and served from there."""

    def __init__(self, folder: Path, exif_transpose: bool = True):
        self.folder, self.exif_transpose = folder, exif_transpose

    def send(self, file: str | None, size: int, fallback: str | None = None) -> Response:
        if file is None:
            abort(404)
        target = self.folder / f"{hashlib.sha1(f'{file}|{size}'.encode()).hexdigest()[:20]}.jpg"
        if not target.is_file() and not save_thumbnail(file, target, size, self.exif_transpose):
            if not (fallback and Path(fallback).is_file()):
                abort(404)
            target = Path(fallback)
        return send_file(target, mimetype="image/jpeg", max_age=3600)
