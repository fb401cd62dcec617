"""The audit of a library's own labels: planted wrong labels ranked first with the right suggestion, duplicates
listed, and every edit made through the library's lock; the audit view's keys in real Chromium."""

import csv
import shutil
import threading
import time

import numpy as np
import pytest
from conftest import TINY_NETWORK, compose_app

from forams_lightning.library.audit import audit_library
from forams_lightning.library.reference_library import ReferenceLibrary
from forams_lightning.library.storage import load_library, save_library

PLANTED = [3, 25, 47]  # references of species 0, 1, 2 labelled as the next species


def _planted(embedder=None, spec=None, files=None) -> ReferenceLibrary:
    """4 tight clusters of 20 references (one species each), 3 of them labelled wrong; reference 80 is the same
    image as 0 under another species, 81 the same as 1 under its own."""
    rng = np.random.default_rng(0)
    centres = np.eye(8)[:4] * 3
    embeddings = np.vstack([centres[s] + 0.3 * rng.normal(size=(20, 8)) for s in range(4)])
    labels = np.repeat(np.arange(4), 20)
    labels[PLANTED] = (labels[PLANTED] + 1) % 4
    embeddings = np.vstack([embeddings, embeddings[:2]]).astype(np.float32)
    labels = np.concatenate([labels, [2, 0]])
    hashes = [f"{i:040x}" for i in range(80)] + [f"{0:040x}", f"{1:040x}"]
    files = files or [f"/refs/{i}.png" for i in range(82)]
    return ReferenceLibrary(embedder, spec or {}, embeddings, labels, files, ["A a", "B b", "C c", "D d"],
                            hashes=hashes, threshold=1.0,
                            preprocessing={"image_size": 32, "crop_border": None, "exif_transpose": True})


def test_planted_wrong_labels_come_first_with_their_true_species_and_duplicates_are_listed():
    library = _planted()
    rows = audit_library(library)
    votes = [r for r in rows if r.reason == "vote"]
    assert {r.file for r in votes[:3]} == {f"/refs/{i}.png" for i in PLANTED}
    assert all(r.score > 0.5 for r in votes[:3])
    truth = {f"/refs/{i}.png": library.species[i // 20] for i in PLANTED}
    assert all(r.suggested_species == truth[r.file] for r in votes[:3])
    dups = [r for r in rows if r.reason.startswith("duplicate of")]
    assert [(r.file, r.species, r.suggested_species, r.score) for r in dups] == [
        ("/refs/80.png", "C c", "A a", 1.0), ("/refs/81.png", "A a", "A a", 0.0)]


@pytest.fixture
def saved(tmp_path):
    from PIL import Image

    from forams_lightning.models.embedder import build_embedder

    images = tmp_path / "refs"
    images.mkdir()
    files = []
    for i in range(82):
        files.append(str(images / f"{i}.png"))
        Image.fromarray(np.full((8, 8, 3), i % 256, np.uint8)).save(files[-1])
    return save_library(_planted(build_embedder(TINY_NETWORK), TINY_NETWORK, files), tmp_path / "library")


def test_audit_edits_go_through_the_library_lock_and_undo_reverses_them(saved):
    from forams_lightning.library.lock import library_lock
    from forams_lightning.review.audit_session import AuditReview

    audit = AuditReview(saved)
    first, second = audit.rows[0], audit.rows[1]
    held = threading.Event()

    def hold():
        with library_lock(saved):
            held.set()
            time.sleep(1.0)

    thread = threading.Thread(target=hold)
    thread.start()
    held.wait()
    start = time.perf_counter()
    audit.decide(0, "relabel")
    assert time.perf_counter() - start > 0.8  # waited for the other change, then landed
    thread.join()
    audit.decide(1, "remove")
    library = load_library(saved)
    assert library.species[library.labels[library.files.index(first.file)]] == first.suggested_species
    assert second.file not in library.files
    assert [h["command"] for h in library.info["history"]][-2:] == ["relabel", "remove"]
    with pytest.raises(ValueError, match="already decided"):
        audit.decide(0, "keep")
    audit.undo(0)
    audit.undo(1)
    library = load_library(saved)
    assert library.species[library.labels[library.files.index(first.file)]] == first.species
    assert second.file in library.files
    with pytest.raises(ValueError, match="action='rename': one of relabel, remove, keep"):
        audit.decide(2, "rename")


def test_the_library_audit_command_writes_audit_csv(saved, tmp_path, capsys):
    from forams_lightning.library.command import library_command

    library_command(compose_app("library", [f"library={saved}", "command=audit"], tmp_path / "out"))
    rows = list(csv.DictReader((tmp_path / "out" / "audit.csv").open()))
    assert list(rows[0]) == ["file", "species", "suggested_species", "score", "reason"]
    assert {r["file"] for r in rows[:3]} == {str(saved.parent / "refs" / f"{i}.png") for i in PLANTED}
    assert "4 references the others vote another species, 2 duplicates" in capsys.readouterr().out  # 80 too


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed (make browser)")
def test_the_audit_view_relabels_and_removes_with_one_key_each(saved, tmp_path):
    playwright = pytest.importorskip("playwright.sync_api")
    from forams_lightning.review.web.serving import start_audit_server

    server, url = start_audit_server(saved, tmp_path / "thumbs", "A. Expert")
    token = {"X-Review-Token": url.split("token=")[1], "Host": url.split("/")[2]}
    padded = {"row": 0, "action": "relabel", "note": "x" * 2**16}  # a decision in a body over 64 KiB: refused
    assert server.app.test_client().post("/api/audit/decide", json=padded, headers=token).status_code == 413
    threading.Thread(target=server.serve_forever, daemon=True).start()
    audit_rows = audit_library(load_library(saved))
    try:
        with playwright.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=["--no-sandbox"])
            page = browser.new_page()
            page.goto(url)
            page.wait_for_selector("#specimen")
            page.keyboard.press("Enter")
            page.keyboard.press("x")
            page.wait_for_function("document.querySelector('#specimen').dataset.row === '2'")
            browser.close()
    finally:
        server.shutdown()
    library = load_library(saved)
    first, second = audit_rows[0], audit_rows[1]
    assert library.species[library.labels[library.files.index(first.file)]] == first.suggested_species
    assert second.file not in library.files
