"""The label audit: planted wrong labels come first with their true species, duplicates are listed, the command writes
audit.csv."""

import csv

from helpers import PLANTED, compose_app, planted_library

from forams_lightning.library.audit import audit_library


def test_planted_wrong_labels_come_first_with_their_true_species_and_duplicates_are_listed():
    library = planted_library()
    rows = audit_library(library)
    votes = [r for r in rows if r.reason == "vote"]
    assert {r.file for r in votes[:3]} == {f"/refs/{i}.png" for i in PLANTED}
    assert all(r.score > 0.5 for r in votes[:3])
    truth = {f"/refs/{i}.png": library.species[i // 20] for i in PLANTED}
    assert all(r.suggested_species == truth[r.file] for r in votes[:3])
    dups = [r for r in rows if r.reason.startswith("duplicate of")]
    assert [(r.file, r.species, r.suggested_species, r.score) for r in dups] == [
        ("/refs/80.png", "C c", "A a", 1.0), ("/refs/81.png", "A a", "A a", 0.0)]




def test_the_library_audit_command_writes_audit_csv(saved, tmp_path, capsys):
    from forams_lightning.library.command import library_command

    library_command(compose_app("library", [f"library={saved}", "command=audit"], tmp_path / "out"))
    rows = list(csv.DictReader((tmp_path / "out" / "audit.csv").open()))
    assert list(rows[0]) == ["file", "species", "suggested_species", "score", "reason"]
    assert {r["file"] for r in rows[:3]} == {str(saved.parent / "refs" / f"{i}.png") for i in PLANTED}
    assert "4 references the others vote another species, 2 duplicates" in capsys.readouterr().out  # 80 too
