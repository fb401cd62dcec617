from collections import Counter

import pytest
from hydra.utils import instantiate

from forams_lightning.data.splits import OPEN_SET_PRESETS, held_out_species
from tests.conftest import shared_dataset

SPECIES = [f"sp{i:02d}" for i in range(35)]


def test_paper_tail10_is_the_footnote_read_one_based():
    chosen = held_out_species(SPECIES, "paper_tail10")
    assert [SPECIES.index(s) + 1 for s in chosen] == [1, 5, 9, 14, 22, 23, 26, 29, 33, 34]
    assert OPEN_SET_PRESETS["paper_tail10"][-1] == 33


def test_unknown_by_names_or_indices_and_clear_errors():
    assert held_out_species(SPECIES, ["sp03", 0]) == ["sp00", "sp03"]
    with pytest.raises(ValueError, match="'nope' is not in the data"):
        held_out_species(SPECIES, ["nope"])
    with pytest.raises(ValueError, match="needs at least 34 species"):
        held_out_species(SPECIES[:20], "paper_tail10")


def test_species_folds_partition_the_species():
    folds = [held_out_species(SPECIES, folds=5, fold=i, seed=3) for i in range(5)]
    assert sorted(s for f in folds for s in f) == SPECIES
    assert all(len(f) == 7 for f in folds)
    assert folds[0] != held_out_species(SPECIES, folds=5, fold=0, seed=4)
    with pytest.raises(ValueError, match="0 <= fold < folds"):
        held_out_species(SPECIES, folds=5, fold=5)


@pytest.mark.parametrize("overrides", [
    ["data.open_set.folds=5", "data.open_set.fold=2"],
    ["data.open_set.unknown=paper_tail10"],
])
def test_withheld_species_never_reach_train_or_val(make_cfg, overrides):
    cfg = make_cfg("data.synthetic.n_species=35", "data.synthetic.max_images=8", "data.synthetic.min_images=4",
                   *overrides)
    dm = instantiate(cfg.data)
    dm.prepare_data()
    dm.setup()
    unknown = set(dm.split_report["unknown_species"])
    assert unknown and len(dm.species) == 35 and dm.num_classes == 35 - len(unknown)
    for sample, part, label in zip(dm.samples, dm.parts, dm.labels):
        assert (part == "unknown_test") == (sample.species in unknown)
        assert (label >= dm.num_classes) == (sample.species in unknown)
    assert dm.eval_parts("test") == ["train", "test", "unknown_test"]
    assert dm.eval_parts("val") == ["train", "val"]


def test_radiolaria_class_disjoint_preset(make_cfg):
    root = shared_dataset("radiolaria")
    dm = instantiate(make_cfg("data=radiolaria", f"data.root={root}").data)
    dm.setup()
    counts = Counter(dm.parts)
    assert len({s.species for s, p in zip(dm.samples, dm.parts) if p == "unknown_test"}) == 67
    assert len({s.species for s, p in zip(dm.samples, dm.parts) if p == "unknown_val"}) == 53
    assert dm.num_classes == 161 and counts["unknown_test"] == 530
    assert dm.eval_parts("val") == ["train", "val", "unknown_val"]
    assert dm.eval_parts("test") == ["train", "test", "unknown_test", "unknown_val"]
