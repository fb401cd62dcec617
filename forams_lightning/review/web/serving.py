"""Serving a live review or an audit on this machine: a server bound to 127.0.0.1 (another address only when told,
with a warning), a per-launch token, and the URL to open. Plain arguments: a script serves one as the `review`
command does.

    server, url = start_server(open_review("runs/core_12"), "runs/core_12", reviewer="A. Expert")
    server.serve_forever()
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from flask import Flask
from werkzeug.serving import BaseWSGIServer, make_server

from forams_lightning.review.session import LiveReview
from forams_lightning.review.web.guard import allowed_hosts, is_loopback, new_token

log = logging.getLogger(__name__)


def start_server(review: LiveReview, run: str | Path, reviewer: str, host: str = "127.0.0.1",
                 *, port: int = 0) -> tuple[BaseWSGIServer, str]:
    """The server (not yet serving: call `serve_forever`) and the URL to open, its token included; `run` is the
    review's run folder (its census and thumbnails go there).

    Args:
        review: the live review to serve.
        run: its run folder (the census and the thumbnails go there).
        reviewer: the name recorded with every verdict.
        host: the address bound (127.0.0.1: this machine only).
        port: 0 for a free one.
    """
    from forams_lightning.review.saving import write_census
    from forams_lightning.review.web.app import create_app

    run = Path(run)

    def census() -> list | None:
        rows = write_census(review, run)
        return None if rows is None else [[str(v) for v in row] for row in rows]

    return _served(host, port, lambda token, hosts: create_app(
        review, token=token, reviewer=reviewer, hosts=hosts, thumbnails=run / "review_files", on_census=census))


def start_audit_server(library: str | Path, thumbnails: str | Path, reviewer: str, host: str = "127.0.0.1",
                       *, port: int = 0) -> tuple[BaseWSGIServer, str]:
    """The audit view of `library` (`review.audit_session`): the server and the URL to open.

    Args:
        library: the library's folder.
        thumbnails: where images are cached.
        reviewer: who decides.
        host: the address bound (127.0.0.1: this machine only).
        port: 0 for a free one.
    """
    from forams_lightning.review.audit_session import AuditReview
    from forams_lightning.review.web.audit_app import create_audit_app

    audit = AuditReview(library)
    log.info("%d suspect references and duplicates to review in %s", len(audit.rows), library)
    return _served(host, port, lambda token, hosts: create_audit_app(audit, token=token, reviewer=reviewer,
                                                                     hosts=hosts, thumbnails=Path(thumbnails)))


def _served(host: str, port: int,
            make_app: Callable[[str, set[str]], Flask]) -> tuple[BaseWSGIServer, str]:
    if not is_loopback(host):
        log.warning("host=%s: the review is reachable from other machines on this network (the token is still "
                    "asked); host=127.0.0.1 keeps it on this machine", host)
    token = new_token()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # not a line per thumbnail in the terminal
    server = make_server(host, port, _not_yet, threaded=True)  # the app needs the port the server was given
    server.app = make_app(token, allowed_hosts(host, server.port))
    shown = f"[{host}]" if ":" in host else host
    return server, f"http://{shown}:{server.port}/?token={token}"


def _not_yet(environ: dict, start_response: Callable) -> list[bytes]:  # replaced before the server serves
    raise RuntimeError("the review app is not ready")
