"""Re-evaluate a saved checkpoint on the saved split of its run: the test metrics of the training run, again.
Several checkpoints are evaluated as one deep ensemble (their embeddings concatenated, `EmbeddingEnsemble`).

    python -m forams_lightning.eval ckpt=logs/train/runs/<date>/checkpoints/<best>.ckpt
    python -m forams_lightning.eval ckpt=[run_a/checkpoints/<best>.ckpt,run_b/checkpoints/<best>.ckpt]
"""

from __future__ import annotations

import logging
from pathlib import Path

import hydra
from omegaconf import DictConfig

from forams_lightning.cli import answer_version, entry_point

log = logging.getLogger(__name__)


def evaluate(cfg: DictConfig) -> dict[str, float]:
    """Writes `eval_metrics.json` (and the evaluation callbacks' reports) into this command's output folder."""
    from hydra.utils import instantiate
    from omegaconf import OmegaConf, open_dict

    from forams_lightning.atomic import atomic_write_json
    from forams_lightning.models.embedder import load_embedders
    from forams_lightning.saved_runs import read_run_configs

    runs = read_run_configs(cfg.ckpt, cfg.get("run_dir"))
    ckpt, run_dir, run = runs[0]
    out = Path(cfg.paths.output_dir)
    with open_dict(run):
        run.data.num_workers = cfg.num_workers
        run.model.backbone.pretrained = False  # the weights come from the checkpoint
    datamodule = instantiate(run.data)
    datamodule.prepare_data()
    datamodule.setup("test")
    callbacks = []
    for name in cfg.callbacks:
        node = run.get("callbacks", {}).get(name)
        if node is None:
            continue
        node = OmegaConf.merge(node, {"report_dir": str(out)} if "report_dir" in node else {})
        callbacks.append(instantiate(node))
    trainer = instantiate(cfg.trainer, logger=False, enable_checkpointing=False, enable_model_summary=False,
                          callbacks=callbacks)
    if len(runs) == 1:
        model = instantiate(run.model, loss=run.loss, miner=run.miner, optimizer=run.optimizer,
                            scheduler=run.scheduler, num_classes=datamodule.num_classes)
        trainer.test(model, datamodule=datamodule, ckpt_path=str(ckpt), weights_only=True)
    else:
        log.info("evaluating an ensemble of %d checkpoints", len(runs))
        ensemble, _ = load_embedders([(c, r) for c, _, r in runs])
        trainer.test(ensemble, datamodule=datamodule)
    metrics = {k: float(v) for k, v in sorted(trainer.callback_metrics.items()) if k.startswith(("test/", "open/"))}
    if trainer.is_global_zero:
        names = [str(c) for c, _, _ in runs]
        atomic_write_json(out / "eval_metrics.json", {"checkpoint": names[0] if len(names) == 1 else names, **metrics})
        if len(runs) == 1:
            _compare_with_run(run_dir, ckpt, metrics)
    return metrics


def _compare_with_run(run_dir: Path, ckpt: Path, metrics: dict[str, float]) -> None:
    import json

    saved_file = run_dir / "metrics.json"
    if not saved_file.is_file():
        return
    saved = json.loads(saved_file.read_text())
    if saved.get("best_checkpoint") and (run_dir / saved["best_checkpoint"]).resolve() != ckpt.resolve():
        log.info("%s is not the run's best checkpoint: nothing to compare with", ckpt)
        return
    differ = {k: (saved.get(k), v) for k, v in metrics.items() if saved.get(k) != v}
    if differ:
        log.warning("re-evaluation differs from the training run's test metrics (saved, now): %s", differ)
    else:
        log.info("re-evaluation reproduces the training run's %d test metrics exactly", len(metrics))


@hydra.main(version_base="1.3", config_path="../conf", config_name="eval")
@entry_point
def main(cfg: DictConfig) -> None:
    evaluate(cfg)


if __name__ == "__main__":
    answer_version()
    main()
