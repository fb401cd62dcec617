"""review.html and review-groups.html: rendered in real Chromium, paged small, the live review's keys, verdicts saved as
a CSV that library add reads."""

from __future__ import annotations

import csv
import json
import re
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from helpers import compose_app, library_cmd, rendered_page, run_test_images, split_parts, two_samples
from PIL import Image

from forams_lightning.identify.command import identify_command
from forams_lightning.library.storage import load_library


def _saved_verdicts(page: str, fill: str, out: Path) -> str:
    """The verdicts CSV that `page` shows after the `fill` script ran in real Chromium."""
    import html as html_lib
    import re

    (out / "filled.html").write_text(page)
    dom = rendered_page((out / "filled.html").as_uri(), fill)
    return html_lib.unescape(re.search(r'<div id="verdicts-csv">(.*?)</div>', dom, re.S).group(1))


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed (make browser)")
def test_review_verdicts_from_the_browser_form_grow_the_library(withheld_run, lib, tmp_path):
    """identify -> review.html in headless Chromium: confirm one row, correct another to a new species, save ->
    verdicts.csv -> library add."""
    import html as html_lib
    import re

    parts = split_parts(withheld_run[0])
    specimens = tmp_path / "specimens"
    specimens.mkdir()
    for i, (src, _) in enumerate(parts["test"][:3] + parts["unknown_test"][:3]):
        shutil.copy(src, specimens / f"{i}.jpg")
    out = tmp_path / "identified"
    identify_command(compose_app("identify", [f"library={lib}", f"images={specimens}", "num_workers=0"], out))
    page = (out / "review.html").read_text()
    fill = ("() => { const rows = document.querySelectorAll('tr.specimen');"
            "rows[0].querySelector('input[value=confirm]').click();"
            "const box = rows[1].querySelector('input.correction'); box.value = 'Novum genus';"
            "box.dispatchEvent(new Event('input'));"
            "document.getElementById('save').click(); }")
    saved = _saved_verdicts(page, fill, out)
    rows = list(csv.DictReader(saved.splitlines()))
    shown = re.findall(r'<tr class="specimen[^"]*" data-file="([^"]+)" data-species="([^"]+)"', page)
    first, second = [(html_lib.unescape(f), html_lib.unescape(s)) for f, s in shown[:2]]
    assert rows == [{"file": first[0], "species": first[1]}, {"file": second[0], "species": "Novum genus"}]
    verdicts = tmp_path / "verdicts.csv"
    verdicts.write_text(saved)
    before = load_library(lib)
    grown = library_cmd(lib, "command=add", f"images={verdicts}", tmp_path=tmp_path)
    assert len(grown.files) == len(before.files) + 2 and grown.counts()["Novum genus"] == 1
    assert grown.files[-2:] == [first[0], second[0]]




@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed (make browser)")
def test_naming_a_group_in_the_browser_names_every_member_and_grows_the_library(withheld_run, lib, tmp_path):
    import html as html_lib
    import re

    root, _ = two_samples(withheld_run, tmp_path)
    out = tmp_path / "identified"
    identify_command(compose_app("identify", [f"library={lib}", f"images={root}", "num_workers=0",
                                              "groups=all"], out))
    page = (out / "review-groups.html").read_text()
    fill = ("() => { const box = document.querySelector('div.group input.group-name'); box.value = 'Novum genus';"
            "box.dispatchEvent(new Event('input')); document.getElementById('save').click(); }")
    saved = _saved_verdicts(page, fill, out)
    members = json.loads(html_lib.unescape(re.search(r'<div class="group" data-group="G1" data-files="([^"]+)"',
                                                     page).group(1)))
    with open(out / "groups.csv", newline="") as f:
        assert len(members) == int(next(csv.DictReader(f))["size"]) > 1
    assert list(csv.DictReader(saved.splitlines())) == [{"file": m, "species": "Novum genus"} for m in members]
    verdicts = tmp_path / "verdicts.csv"
    verdicts.write_text(saved)
    grown = library_cmd(lib, "command=add", f"images={verdicts}", tmp_path=tmp_path)
    assert grown.counts()["Novum genus"] == len(members)






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






@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed (make browser)")
def test_review_html_renders_in_headless_chromium(library, trained_run, tmp_path):
    run, _ = trained_run
    images = [src for src, _ in run_test_images(run)[:6]]
    specimens = tmp_path / "specimens"
    specimens.mkdir()
    for i, src in enumerate(images):
        shutil.copy(src, specimens / f"{i}.jpg")
    out = tmp_path / "identified"
    identify_command(compose_app("identify", [f"library={library}", f"images={specimens}", "num_workers=0"], out))
    shot = tmp_path / "shot.png"
    dom = rendered_page((out / "review.html").as_uri(), screenshot=shot)
    assert dom.count('class="specimen') == 6
    # the page's script builds each row's verdict controls and path line (not stored in the file: size)
    table = dom.split("<tbody>")[1].split("</tbody>")[0]
    assert table.count('type="radio"') == 18 and table.count('class="correction"') == 6
    assert f"<small>{specimens / '0.jpg'}</small>" in table
    pixels = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert pixels.std() > 20  # images and text, not a blank page
    assert (pixels < 128).mean() > 0.02


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed (make browser)")
def test_review_of_a_whole_sample_is_paged_small_and_opens_fast(library, trained_run, tmp_path):
    """2,000 specimens: pages of 200 rows, thumbnails stored once beside them, every page reachable, the first page
    small and quick to open in headless Chromium; predictions.csv complete, no partial file left."""

    sources = [src for src, _ in run_test_images(trained_run[0])]
    specimens = tmp_path / "sample"
    specimens.mkdir()
    for i in range(2000):
        shutil.copy(sources[i % len(sources)], specimens / f"{i:05d}.jpg")
    out = tmp_path / "identified"
    predictions = identify_command(compose_app("identify", [f"library={library}", f"images={specimens}",
                                                            "num_workers=0", "batch_size=128"], out))
    assert len(predictions.read_text().splitlines()) == 2001 and not list(out.glob(".predictions*"))
    pages = sorted(p for p in out.glob("review*.html") if p.name != "review-groups.html")
    assert len(pages) == 10 and all(p.read_text().count('<tr class="specimen') == 200 for p in pages)
    assert 'href="review-10.html"' in (out / "review.html").read_text()
    thumbs = list((out / "review_files").glob("*.jpg"))
    references = set().union(*(set(re.findall(r"review_files/[0-9a-f]+\.jpg", p.read_text())) for p in pages))
    assert len(thumbs) == len(references) <= 2000 + len(load_library(library).files)
    on_first = set(re.findall(r"review_files/[0-9a-f]+\.jpg", (out / "review.html").read_text()))
    first_page = (out / "review.html").stat().st_size + sum((out / t).stat().st_size for t in on_first)
    assert first_page < 3 * 2**20
    start = time.perf_counter()
    dom = rendered_page((out / "review.html").as_uri())
    assert time.perf_counter() - start < 10 and dom.count('class="specimen') == 200
