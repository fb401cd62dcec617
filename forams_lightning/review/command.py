"""What `python -m forams_lightning.review ...` does with its config: identify first where images= is given
(`identify.command`), open the review (`review.opening.open_review`) and serve it (`review.web`) until Ctrl-C; or
serve the audit view of a library (audit=true)."""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig
from werkzeug.serving import BaseWSGIServer


def review_command(cfg: DictConfig) -> None:
    from forams_lightning.identify.command import identify_command, identify_settings
    from forams_lightning.library.command import inference_settings
    from forams_lightning.review.opening import open_review
    from forams_lightning.review.web.serving import start_server

    run = Path(cfg.paths.output_dir)
    if cfg.audit:
        return _audit(cfg, run)
    if cfg.images:
        if not cfg.library:
            raise ValueError("images=... needs library=DIR to identify the sample against")
        identify_command(cfg)
    review = open_review(run, cfg.library, identify_settings(cfg), inference=inference_settings(cfg),
                         order=str(cfg.review.order))
    server, url = start_server(review, run, str(cfg.reviewer), str(cfg.host), port=int(cfg.port))
    try:
        serve(server, f"review at {url}")
    finally:
        review.close()  # the last verdicts written into the library and the run folder
    error = review.keeper.status()["sync_error"] if review.keeper else "not kept"
    print(f"verdicts in {run / 'verdicts.csv'}; library {review.library.folder} "
          f"{'saved' if error is None else 'NOT saved: ' + error}", flush=True)


def _audit(cfg: DictConfig, run: Path) -> None:
    from forams_lightning.review.web.serving import start_audit_server

    if not cfg.library:
        raise ValueError("audit=true needs library=DIR (the library whose labels to audit)")
    server, url = start_audit_server(cfg.library, run / "review_files", str(cfg.reviewer), str(cfg.host),
                                     port=int(cfg.port))
    serve(server, f"audit at {url}")


def serve(server: BaseWSGIServer, line: str) -> None:
    """Prints the one line to open and serves until Ctrl-C."""
    print(line, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
