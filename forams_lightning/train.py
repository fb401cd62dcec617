"""Train a metric-learning model, test its best checkpoint, write metrics.json.

    python -m forams_lightning.train +experiment=closed_set
    python -m forams_lightning.train +experiment=closed_set data=endless_forams data.root=/path/to/download
"""

from __future__ import annotations

import logging
import time

import hydra
from omegaconf import DictConfig

from forams_lightning.cli import answer_version, entry_point
from forams_lightning.config_check import check_config_types
from forams_lightning.runs import (
    check_distributed_sampler,
    check_schedule,
    ensure_writable,
    instantiate_all,
    record_run,
    save_run_config,
    select_checkpoint,
)

log = logging.getLogger(__name__)


def train(cfg: DictConfig) -> float | None:
    """Runs fit and test; returns the best value of `cfg.optimized_metric` (for sweepers)."""
    import pytorch_lightning as pl
    import torch
    from hydra.utils import instantiate

    check_config_types(cfg)
    check_schedule(cfg)
    if cfg.get("float32_matmul_precision"):
        torch.set_float32_matmul_precision(cfg.float32_matmul_precision)
    ensure_writable(cfg.paths.output_dir)
    pl.seed_everything(cfg.seed, workers=True)
    save_run_config(cfg)
    datamodule = instantiate(cfg.data)
    datamodule.prepare_data()
    datamodule.setup("fit")
    model = instantiate(cfg.model, loss=cfg.loss, miner=cfg.miner, optimizer=cfg.optimizer,
                        scheduler=cfg.scheduler, num_classes=datamodule.num_classes)
    callbacks = instantiate_all(cfg.get("callbacks"))
    loggers = instantiate_all(cfg.get("logger"))
    trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False)
    check_distributed_sampler(trainer, cfg)
    for lg in loggers:
        lg.log_hyperparams(cfg)

    start = time.perf_counter()
    trainer.fit(model, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"), weights_only=True)
    seconds = {"fit": time.perf_counter() - start}
    last_val = dict(trainer.callback_metrics)  # trainer.test() replaces them
    tested = select_checkpoint(trainer, cfg.paths.output_dir)
    trainer.test(model, datamodule=datamodule, ckpt_path=tested, weights_only=True)
    seconds["run"] = time.perf_counter() - start
    return record_run(cfg, trainer, datamodule, {**last_val, **trainer.callback_metrics}, seconds=seconds,
                      tested=tested)


@hydra.main(version_base="1.3", config_path="../conf", config_name="train")
@entry_point
def main(cfg: DictConfig) -> float | None:
    return train(cfg)


if __name__ == "__main__":
    answer_version()
    main()
