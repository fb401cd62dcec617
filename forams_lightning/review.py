"""The live review of an identified sample: a local web page, keyboard first, where every verdict becomes a reference
at once and re-identifies the specimens not yet reviewed.

    python -m forams_lightning.review run=DIR                                 # an identify run folder
    python -m forams_lightning.review library=DIR images=FOLDER run=DIR        # identify first, then review
    python -m forams_lightning.review audit=true library=DIR                   # the library's suspect labels

It prints one line, `review at http://127.0.0.1:PORT/?token=...`, and serves until Ctrl-C. What it does:
`review_app.launch` (the same for scripts), over `reference.live_review`.
"""

from __future__ import annotations

from pathlib import Path

import hydra
from hydra.utils import instantiate
from omegaconf import DictConfig

from forams_lightning.cli import answer_version, entry_point


def review(cfg: DictConfig) -> None:
    from forams_lightning.identifying import identify
    from forams_lightning.reference.embedding import Inference
    from forams_lightning.reference.identification import IdentifySettings
    from forams_lightning.review_app.launch import open_review, start_server

    run = Path(cfg.paths.output_dir)
    if cfg.audit:
        return _audit(cfg, run)
    if cfg.images:
        if not cfg.library:
            raise ValueError("images=... needs library=DIR to identify the sample against")
        identify(cfg)
    inference = Inference(cfg.batch_size, cfg.num_workers, cfg.device, str(cfg.precision))
    settings = IdentifySettings(cfg.k, cfg.vote, instantiate(cfg.reranking), cfg.groups)
    session, sync = open_review(run, cfg.library, settings, inference, str(cfg.review.order))
    server, url = start_server(session, sync, run, str(cfg.reviewer), str(cfg.host), int(cfg.port))
    try:
        _serve(server, f"review at {url}")
    finally:
        sync.close()  # the last verdicts written into the library and the run folder
    print(f"verdicts in {run / 'verdicts.csv'}; library {sync.library_folder} "
          f"{'saved' if sync.error is None else 'NOT saved: ' + sync.error}", flush=True)


def _audit(cfg: DictConfig, run: Path) -> None:
    from forams_lightning.review_app.launch import start_audit_server

    if not cfg.library:
        raise ValueError("audit=true needs library=DIR (the library whose labels to audit)")
    server, url = start_audit_server(cfg.library, run / "review_files", str(cfg.reviewer), str(cfg.host),
                                     int(cfg.port))
    _serve(server, f"audit at {url}")


def _serve(server, line: str) -> None:
    """Prints the one line to open and serves until Ctrl-C."""
    print(line, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


@hydra.main(version_base="1.3", config_path="../conf", config_name="review")
@entry_point
def main(cfg: DictConfig) -> None:
    review(cfg)


if __name__ == "__main__":
    answer_version()
    main()
