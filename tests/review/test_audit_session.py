"""The audit session: each decision an edit of the library under its lock, undone by undo; the audit view's keys in real
Chromium."""

import shutil
import threading
import time

import pytest

from forams_lightning.library.audit import audit_library
from forams_lightning.library.storage import load_library


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
