"""Opening a live review on a run folder, and serving it. Plain arguments: a script starts one as the `review`
command does.

    review, sync = open_review("runs/core_12")
    server, url = start_server(review, sync, "runs/core_12", reviewer="A. Expert")
    server.serve_forever()
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from werkzeug.serving import make_server

from forams_lightning.reference.embedding import Inference
from forams_lightning.reference.identification import IdentifySettings
from forams_lightning.reference.live_review import LiveReview
from forams_lightning.reference.review_sync import ReviewSync, census_rows, read_verdicts
from forams_lightning.reference.sample_embeddings import (
    SampleEmbeddings,
    embedder_fingerprint,
    load_sample_embeddings,
)
from forams_lightning.reference.storage import load_library
from forams_lightning.review_app.guard import allowed_hosts, is_loopback, new_token
from forams_lightning.saved_runs import read_config_file

log = logging.getLogger(__name__)


def open_review(run: str | Path, library: str | None = None, settings: IdentifySettings = IdentifySettings(),
                inference: Inference = Inference(), order: str = "benefit") -> tuple[LiveReview, ReviewSync]:
    """The review of `run` (an `identify` run folder) against `library` (default: the one it was identified
    against), resumed from its verdicts.csv where it has one; its embeddings are computed once where the folder has
    none (identified before they were kept) or the library's network has changed since."""
    run = Path(run)
    if not (run / "predictions.csv").is_file():
        raise FileNotFoundError(f"run={run} holds no predictions.csv: run identify first, or give library=... "
                                "images=... to identify before the review opens")
    sample = load_sample_embeddings(run)
    folder = Path(library or (sample.library if sample else _identified_against(run)))
    library_now = load_library(folder)
    fingerprint = embedder_fingerprint(folder)
    if sample is None or sample.library_embedder != fingerprint:
        sample = _embed_again(run, sample, library_now, folder, fingerprint, inference)
    files = [str(Path(f).resolve()) for f in sample.files]
    verdicts = read_verdicts(run, files)
    decided = {files[v.specimen] for v in verdicts}
    earlier = np.array([f in decided for f in library_now.files], bool)  # references a resumed review added
    ours = set(files) - (set(library_now.files) - decided)
    review = LiveReview(library_now.subset(~earlier) if earlier.any() else library_now, sample, settings, verdicts,
                        order)
    return review, ReviewSync(review, folder, run, ours).start()


def _identified_against(run: Path) -> str:
    """The library a run folder from before kept embeddings was identified against (its saved config, read as
    data)."""
    saved = run / ".hydra" / "config.yaml"
    try:
        library = read_config_file(saved).get("library")
    except Exception:  # noqa: BLE001 - whatever is wrong with it, the user names the library instead
        library = None
    if library:
        return str(library)
    raise ValueError(f"run={run}: its saved config {saved} does not name the library it was identified against; "
                     "give library=DIR")


def _embed_again(run: Path, sample: SampleEmbeddings | None, library, folder: Path, fingerprint: str,
                 inference: Inference) -> SampleEmbeddings:
    import csv

    from forams_lightning.data.samples import sample_images

    if sample is None:
        with (run / "predictions.csv").open(newline="", encoding="utf-8") as f:
            files = [row["file"] for row in csv.DictReader(f)]
        saved = run / ".hydra" / "config.yaml"
        images = str(read_config_file(saved).get("images") or "") if saved.is_file() else ""
        listed, samples = sample_images(images) if images and Path(images).exists() else (files, None)
        sample = SampleEmbeddings(files, samples if listed == files else None, np.zeros((0, 0)), str(folder), "",
                                  images)
        log.info("run=%s keeps no embeddings of its sample (identified by an older version): embedding its %d "
                 "images once", run, len(files))
    else:
        log.info("the library's network changed since %s was identified: embedding its %d images again", run,
                 len(sample.files))
    embeddings, good, _ = library.embed(sample.files, inference, "sample")
    sample.embeddings = np.full((len(sample.files), library.embeddings.shape[1]), np.nan, np.float32)
    sample.embeddings[good] = embeddings
    sample.library, sample.library_embedder = str(folder.resolve()), fingerprint
    sample.save(run)
    return sample


def start_server(review: LiveReview, sync: ReviewSync, run: str | Path, reviewer: str, host: str = "127.0.0.1",
                 port: int = 0):
    """The server (not yet serving: call `serve_forever`) and the URL to open, its token included."""
    from forams_lightning.review_app.app import create_app

    run = Path(run)

    def make_app(token: str, hosts: set[str]):
        census = lambda: _write_census(review, run)  # noqa: E731
        return create_app(review, sync, token, reviewer, hosts, run / "review_files", census)

    return _served(host, port, make_app)


def start_audit_server(library: str | Path, thumbnails: str | Path, reviewer: str, host: str = "127.0.0.1",
                       port: int = 0):
    """The audit view of `library` (`reference.audit_review`): the server and the URL to open."""
    from forams_lightning.reference.audit_review import AuditReview
    from forams_lightning.review_app.audit_app import create_audit_app

    audit = AuditReview(library)
    log.info("%d suspect references and duplicates to review in %s", len(audit.rows), library)
    return _served(host, port, lambda token, hosts: create_audit_app(audit, token, reviewer, hosts, Path(thumbnails)))


def _served(host: str, port: int, make_app):
    if not is_loopback(host):
        log.warning("host=%s: the review is reachable from other machines on this network (the token is still "
                    "asked); host=127.0.0.1 keeps it on this machine", host)
    token = new_token()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # not a line per thumbnail in the terminal
    server = make_server(host, port, _not_yet, threaded=True)  # the app needs the port the server was given
    server.app = make_app(token, allowed_hosts(host, server.port))
    shown = f"[{host}]" if ":" in host else host
    return server, f"http://{shown}:{server.port}/?token={token}"


def _not_yet(environ, start_response):  # replaced before the server serves
    raise RuntimeError("the review app is not ready")


def _write_census(review: LiveReview, run: Path) -> list | None:
    from forams_lightning.data.samples import sample_positions
    from forams_lightning.reference.census_tables import write_census

    positions = sample_positions(review.sample.images) if review.sample.images else None
    rows = census_rows(review, positions.order() if positions else None)
    if rows is None:
        return None
    write_census(run, rows, review.library.species, positions)
    return [[str(v) for v in row] for row in rows]
