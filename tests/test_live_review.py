"""The live review: verdicts grow the library as they are made, re-identify the rest, come back on undo; the page is
driven by its keys in real Chromium, guarded by its token, bound to 127.0.0.1."""

import csv
import json
import shutil
import threading
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from conftest import TINY_NETWORK, compose_app
from PIL import Image

from forams_lightning.identify.groups import CandidateGroup
from forams_lightning.identify.sample_embeddings import ARRAY, META, load_sample_embeddings
from forams_lightning.library.storage import load_library
from forams_lightning.review.session import LiveReview

TWIN_NAME = "Novus testus"


def _pattern(seed: int, species: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = np.zeros((32, 32, 3), np.uint8)
    base[..., species] = 200
    return np.clip(base + rng.integers(0, 60, base.shape), 0, 255).astype(np.uint8)


@pytest.fixture
def identified(tmp_path):
    """A library of 12 references of 2 species (the tiny network, its own embeddings), and an identify run folder
    of 12 specimens in 2 samples, two of which are near-twins (one pixel apart)."""
    from forams_lightning.identify.command import identify_command
    from forams_lightning.library.reference_library import ReferenceLibrary
    from forams_lightning.library.storage import save_library
    from forams_lightning.models.embedder import build_embedder

    refs = tmp_path / "references"
    refs.mkdir()
    files = []
    for i in range(12):
        files.append(str(refs / f"{i}.png"))
        Image.fromarray(_pattern(i, i % 2)).save(files[-1])
    library = ReferenceLibrary(embedder=build_embedder(TINY_NETWORK), embedder_spec=TINY_NETWORK,
                               embeddings=np.zeros((0, 8), np.float32), labels=np.zeros(0, int), files=[],
                               species=["G. a", "G. b"], threshold=10.0,
                               preprocessing={"image_size": 32, "crop_border": None, "exif_transpose": True})
    embeddings, _, _ = library.embed(files)
    library = library.with_references(embeddings, ["G. a", "G. b"] * 6, files, [""] * 12)
    folder = save_library(library, tmp_path / "library")
    sample = tmp_path / "sample"
    for i in range(12):
        (sample / f"s{i % 2}").mkdir(parents=True, exist_ok=True)
        Image.fromarray(_pattern(100 + i, 2 if i < 2 else i % 2)).save(sample / f"s{i % 2}" / f"{i}.png")
    twin = np.asarray(Image.open(sample / "s0" / "0.png")).copy()
    twin[0, 0] = 255 - twin[0, 0]
    Image.fromarray(twin).save(sample / "s1" / "twin.png")
    run = tmp_path / "run"
    identify_command(compose_app("identify", [f"library={folder}", f"images={sample}", "num_workers=0",
                                              "precision=32"], run))
    return folder, run


def _review(folder, run):
    from forams_lightning.review.opening import open_review

    return open_review(run, str(folder))


def _index(review: LiveReview, name: str) -> int:
    return [Path(f).name for f in review.files].index(name)


def test_a_verdict_re_identifies_the_specimen_whose_neighbour_it_became_and_undo_takes_it_back(identified):
    folder, run = identified
    review = _review(folder, run)
    a, b = _index(review, "0.png"), _index(review, "twin.png")
    assert review.specimen(b)["species"] != TWIN_NAME
    changes = review.decide(a, TWIN_NAME, "A. Expert")
    assert [(c.specimen, c.after) for c in changes if c.specimen == b] == [(b, TWIN_NAME)]
    assert review.progress()["done"] == 1 and a not in review.order()
    review.close()
    grown = load_library(folder)
    assert grown.counts()[TWIN_NAME] == 1 and grown.info["history"][-1]["command"] == "review"
    rows = {Path(r["file"]).name: r for r in csv.DictReader((run / "predictions.csv").open())}
    assert rows["0.png"]["validated_by"] == "A. Expert" and rows["twin.png"]["species"] == TWIN_NAME
    assert rows["twin.png"]["validated_by"] == "" and rows["5.png"]["species"] in ("G. a", "G. b")
    back = review.undo([a])
    assert [c.after for c in back if c.specimen == b] != [TWIN_NAME] and review.specimen(b)["species"] != TWIN_NAME
    review.close()
    assert TWIN_NAME not in {s for s, n in load_library(folder).counts().items() if n}


def test_a_review_resumes_from_its_verdicts_and_a_group_verdict_names_every_member(identified):
    folder, run = identified
    review = _review(folder, run)
    review.decide(_index(review, "3.png"), "G. b", "A")
    review.decide(_index(review, "0.png"), "Globus novus", "A")
    review.close()
    again = _review(folder, run)  # the verdicts as one growth of the library: the same state
    assert again.progress()["done"] == 2 and again.library.files == review.library.files
    np.testing.assert_array_equal(again.identified.prediction, review.identified.prediction)
    np.testing.assert_array_equal(again.identified.novel, review.identified.novel)
    assert again.order() == review.order()
    again.identified.groups = [CandidateGroup("G1", np.array(again.order()[:2]), 0, 0.0)]
    again.decide_group("G1", "Globus novus", "B")
    assert again.progress()["done"] == 4
    with pytest.raises(ValueError, match="no candidate group 'G7'"):
        again.decide_group("G7", "x", "B")
    with pytest.raises(ValueError, match="Globus novus"):
        again.decide(again.order()[0], "globus novus", "B")
    again.close()


def test_a_run_folder_without_kept_embeddings_is_embedded_once(identified):
    folder, run = identified
    from forams_lightning.review.opening import open_review

    kept = load_sample_embeddings(run).embeddings
    (run / ARRAY).unlink()
    (run / META).unlink()
    (run / ".hydra").mkdir()  # what a run folder of an older version keeps: its saved config
    (run / ".hydra" / "config.yaml").write_text(f"library: {folder}\nimages: {folder.parent / 'sample'}\n")
    review = open_review(run)
    review.close()
    again = load_sample_embeddings(run)
    np.testing.assert_allclose(again.embeddings, kept, atol=1e-5)
    assert again.samples is not None and len(review.order()) == 13


def _get(url: str, token: str | None = None) -> int:
    request = urllib.request.Request(url, headers={"X-Review-Token": token} if token else {})
    try:
        return urllib.request.urlopen(request, timeout=10).status
    except urllib.error.HTTPError as error:
        return error.code


@pytest.fixture
def served(identified):
    from forams_lightning.review.web.serving import start_server

    folder, run = identified
    review = _review(folder, run)
    server, url = start_server(review, run, reviewer="A. Expert")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield review, server, url, folder, run
    server.shutdown()
    review.close()


def test_the_server_listens_on_127_0_0_1_and_refuses_a_request_without_its_token(served):
    review, server, url, folder, run = served
    base, token = url.split("/?token=")
    assert server.socket.getsockname()[0] == "127.0.0.1" and base.startswith("http://127.0.0.1:")
    assert _get(base + "/api/state") == 403 and _get(base + "/") == 403
    assert _get(base + "/api/state", "wrong") == 403 and _get(base + "/image/specimen/0") == 403
    assert _get(base + "/api/state", token) == 200 and _get(f"{base}/?token={token}") == 200
    rebound = urllib.request.Request(base + "/api/state", headers={"X-Review-Token": token, "Host": "evil.test"})
    with pytest.raises(urllib.error.HTTPError, match="403"):
        urllib.request.urlopen(rebound, timeout=10)


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed (make browser)")
def test_keyboard_verdicts_in_chromium_grow_the_library_and_two_tabs_lose_nothing(served):
    playwright = pytest.importorskip("playwright.sync_api")
    review, server, url, folder, run = served
    before = len(load_library(folder).files)
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=["--no-sandbox"])
        page = browser.new_page()
        page.goto(url)
        page.wait_for_selector(".candidate.chosen")
        # n: a new name for one of the twins; the other is re-identified and the page lists it
        for _ in range(review.order().index(_index(review, "0.png"))):
            page.keyboard.press("j")
        page.wait_for_function("document.querySelector('.facts').textContent.includes('0.png')")
        page.keyboard.press("n")
        page.keyboard.type(TWIN_NAME)
        page.keyboard.press("Enter")
        page.wait_for_function("document.getElementById('done').textContent === '1'")
        assert "twin.png" in page.inner_text("#changes") and TWIN_NAME in page.inner_text("#changes")
        for _ in range(5):  # typed ahead: every key counts, in order
            page.keyboard.press("Enter")
        page.wait_for_function("document.getElementById('done').textContent === '6'")
        page.keyboard.press("u")
        page.wait_for_function("document.getElementById('done').textContent === '5'")
        other = browser.new_page()  # a second tab: both tabs' verdicts land
        other.goto(url)
        other.wait_for_selector(".candidate.chosen")
        showing = "document.getElementById('specimen').dataset.id"
        while other.evaluate(showing) == page.evaluate(showing):
            other.keyboard.press("j")
            other.wait_for_timeout(200)
        page.keyboard.press("Enter")
        other.keyboard.press("Enter")
        for _ in range(100):
            if review.progress()["done"] == 7:
                break
            page.wait_for_timeout(100)
        assert review.progress()["done"] == 7
        page.keyboard.press("?")
        assert page.is_visible("#help")
        browser.close()
    review.close()
    verdicts = list(csv.DictReader((run / "verdicts.csv").open()))
    assert len(verdicts) == 7 and {v["validated_by"] for v in verdicts} == {"A. Expert"}
    assert len(load_library(folder).files) == before + 7
    assert json.loads((folder / "manifest.json").read_text())["history"][-1]["command"] == "review"


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed (make browser)")
def test_the_static_review_page_takes_the_same_keys(identified):
    playwright = pytest.importorskip("playwright.sync_api")
    _, run = identified
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=["--no-sandbox"])
        page = browser.new_page()
        page.goto((run / "review.html").as_uri())
        for _ in range(3):
            page.keyboard.press("Enter")
        page.keyboard.press("s")
        page.keyboard.press("n")
        page.keyboard.type("Globus novus")
        page.keyboard.press("Enter")
        assert page.inner_text("#n-verdicts") == "4"
        fifth = page.locator("tr.specimen").nth(4)
        assert fifth.locator("input[value=correct]").is_checked()
        assert fifth.locator("input.correction").input_value() == "Globus novus"
        assert page.evaluate("document.querySelectorAll('tr.current').length") == 1
        page.keyboard.press("u")
        page.wait_for_load_state()
        page.wait_for_function("document.getElementById('n-verdicts').textContent === '3'")
        page.keyboard.press("n")
        assert page.evaluate("document.activeElement.className") == "correction"
        browser.close()


def test_the_api_names_groups_writes_the_census_and_refuses_bad_input_in_one_line(identified):
    from forams_lightning.review.web.serving import start_server

    folder, run = identified
    review = _review(folder, run)
    server, url = start_server(review, run, reviewer="A. Expert")
    client = server.app.test_client()
    token = {"X-Review-Token": url.split("token=")[1], "Host": url.split("/")[2]}
    review.identified.groups = [CandidateGroup("G1", np.array(review.order()[:3]), 0, 0.0)]
    groups = client.get("/api/groups", headers=token).get_json()
    assert groups[0]["group"] == "G1" and len(groups[0]["members"]) == 3
    assert b"candidate groups" in client.get("/groups", headers=token).data
    named = client.post("/api/group", json={"group": "G1", "species": "Globus <b>novus</b>"}, headers=token)
    assert named.get_json()["done"] == 3
    assert "Globus &lt;b&gt;novus&lt;/b&gt;" in client.get("/", headers=token).get_data(as_text=True)
    first = review.order()[0]
    assert client.post("/api/skip", json={"id": first}, headers=token).get_json()["order"][-1] == first
    refused = client.post("/api/verdict", json={"id": 999, "species": "G. a"}, headers=token)
    assert refused.status_code == 400 and "no such readable specimen" in refused.get_json()["error"]
    assert client.post("/api/verdict", data="not json", headers=token).status_code == 400
    padded = {"id": first, "species": "G. a", "note": "x" * 2**16}  # a verdict in a body over 64 KiB: refused
    assert client.post("/api/verdict", json=padded, headers=token).status_code == 413 and first in review.order()
    assert client.post("/api/undo", json={"ids": [first]}, headers=token).status_code == 400
    assert client.get("/image/reference/99999", headers=token).status_code == 404
    census = client.post("/api/census", json={}, headers=token).get_json()
    assert census["rows"] and (run / "census.csv").is_file()
    review.close()
    rows = list(csv.DictReader((run / "predictions.csv").open()))
    assert sum(r["species"] == "Globus <b>novus</b>" and r["validated_by"] == "A. Expert" for r in rows) == 3
    assert len(load_library(folder).files) == 12 + 3


def test_the_review_command_prints_one_line_serves_on_127_0_0_1_and_ends_on_ctrl_c(identified):
    import re
    import signal
    import subprocess
    import sys

    folder, run = identified
    (run / ".hydra").mkdir()
    (run / ".hydra" / "config.yaml").write_text(f"library: {folder}\n")  # identify's own saved config stays
    process = subprocess.Popen([sys.executable, "-m", "forams_lightning.review", f"run={run}", f"library={folder}",
                                "reviewer=A. Expert"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        line = ""
        for line in process.stdout:
            if line.startswith("review at"):
                break
        found = re.fullmatch(r"review at (http://127\.0\.0\.1:\d+)/\?token=([\w-]+)\n", line)
        assert found, line
        assert _get(found.group(1) + "/api/state", found.group(2)) == 200
        assert _get(found.group(1) + "/api/state") == 403
    finally:
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=60)
    assert process.returncode == 0 and "verdicts in" in rest
    assert (run / ".hydra-review" / "config.yaml").is_file()
    assert (run / ".hydra" / "config.yaml").read_text() == f"library: {folder}\n"


def test_opening_a_review_imports_no_backbone_library(identified):
    """The review starts in seconds: kept embeddings need no network, so timm, torchvision and scikit-learn (seconds
    of import) stay unimported until a file has to be embedded."""
    import subprocess
    import sys

    folder, run = identified
    code = ("import sys\nfrom forams_lightning.review.opening import open_review\n"
            f"review = open_review({str(run)!r}, {str(folder)!r})\nreview.close()\n"
            "print(sorted(m for m in ('timm', 'torchvision', 'sklearn') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_references_another_user_adds_join_the_review_at_its_next_save(identified, tmp_path):
    """Another expert's `library add` while this review runs: after this review's next save its specimens are
    identified against those references too, and this review's own verdicts stay on top."""
    from forams_lightning.library.editing import add_references

    folder, run = identified
    review = _review(folder, run)
    first = _index(review, "0.png")  # of the species the library does not hold (colour channel 2)
    assert not review.label(first).startswith("G. c")
    new = tmp_path / "added"
    new.mkdir()
    for i in range(4):
        Image.fromarray(_pattern(300 + i, 2)).save(new / f"c{i}.png")
    add_references(folder, str(new), species="G. c")
    review.decide(_index(review, "3.png"), "G. b", "A")
    review.close()
    assert review.label(first).startswith("G. c") and "G. c" in review.library.species
    assert len(review.library.files) == 12 + 4 + 1 and review.library.files[-1].endswith("3.png")
    assert len(load_library(folder).files) == 12 + 4 + 1
    assert review.adopt(load_library(folder), review.keeper.ours) == []  # nobody changed anything since
