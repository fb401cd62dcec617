"""Re-evaluate a saved checkpoint on the saved split of its run: the test metrics of the training run, again.

    python -m forams_lightning.eval ckpt=logs/train/runs/<date>/checkpoints/<best>.ckpt
"""

from __future__ import annotations

import logging
from pathlib import Path

import hydra
from omegaconf import DictConfig

log = logging.getLogger(__name__)
logging.getLogger("faiss.loader").setLevel(logging.WARNING)


def evaluate(cfg: DictConfig) -> dict[str, float]:
    """Writes `eval_metrics.json` (and the evaluation callbacks' reports) into this command's output folder."""
    from hydra.utils import instantiate
    from omegaconf import OmegaConf, open_dict

    from forams_lightning.atomic import atomic_write_json
    from forams_lightning.runs import read_run_config

    ckpt, run_dir, run = read_run_config(cfg.ckpt, cfg.get("run_dir"))
    out = Path(cfg.paths.output_dir)
    with open_dict(run):
        run.data.num_workers = cfg.num_workers
        run.model.backbone.pretrained = False  # the weights come from the checkpoint
    datamodule = instantiate(run.data)
    datamodule.prepare_data()
    datamodule.setup("test")
    model = instantiate(run.model, loss=run.loss, miner=run.miner, optimizer=run.optimizer, scheduler=run.scheduler,
                        num_classes=datamodule.num_classes)
    callbacks = []
    for name in cfg.callbacks:
        node = run.get("callbacks", {}).get(name)
        if node is None:
            continue
        node = OmegaConf.merge(node, {"report_dir": str(out)} if "report_dir" in node else {})
        callbacks.append(instantiate(node))
    trainer = instantiate(cfg.trainer, logger=False, enable_checkpointing=False, enable_model_summary=False,
                          callbacks=callbacks)
    trainer.test(model, datamodule=datamodule, ckpt_path=str(ckpt))
    metrics = {k: float(v) for k, v in sorted(trainer.callback_metrics.items()) if k.startswith(("test/", "open/"))}
    if trainer.is_global_zero:
        atomic_write_json(out / "eval_metrics.json", {"checkpoint": str(ckpt), **metrics})
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
def main(cfg: DictConfig) -> None:
    evaluate(cfg)


if __name__ == "__main__":
    main()
