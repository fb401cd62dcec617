"""The live review's page: driven by its keys in real Chromium, guarded by its token, bound to 127.0.0.1, its API's
refusals one line."""

import csv
import json
import shutil
import threading
import urllib.error
import urllib.request

import numpy as np
import pytest
from helpers import TWIN_NAME, http_status, index_of, open_sample_review

from forams_lightning.identify.groups import CandidateGroup
from forams_lightning.library.storage import load_library


@pytest.fixture
def served(identified):
    from forams_lightning.review.web.serving import start_server

    folder, run = identified
    review = open_sample_review(folder, run)
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
    assert http_status(base + "/api/state") == 403 and http_status(base + "/") == 403
    assert http_status(base + "/api/state", "wrong") == 403 and http_status(base + "/image/specimen/0") == 403
    assert http_status(base + "/api/state", token) == 200 and http_status(f"{base}/?token={token}") == 200
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
        for _ in range(review.order().index(index_of(review, "0.png"))):
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


def test_the_api_names_groups_writes_the_census_and_refuses_bad_input_in_one_line(identified):
    from forams_lightning.review.web.serving import start_server

    folder, run = identified
    review = open_sample_review(folder, run)
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
