"""The web page and /docs in a real headless Chromium (Playwright), with no network beyond the
server: the prefilled examples' results on load, the answer highlighted, the tag panel, Swagger UI."""

from __future__ import annotations

import os

import httpx
import pytest
from serve_helpers import running

from bertkit.serve import ServeOptions

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"no Chromium at {CHROMIUM} (Debian package 'chromium'; .ci/run installs it)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (python) is not installed")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def offline_page(browser, url: str):
    """A page that can reach ``url`` only (anything else is aborted and recorded), and its problems."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))

    def only_local(route):
        if route.request.url.startswith(url) or route.request.url.startswith("data:"):
            return route.continue_()
        problems.append(f"network: {route.request.url}")
        return route.abort()

    page.route("**/*", only_local)
    return page, problems


@pytest.mark.slow  # over ~1.3 s: the default suite stays under 3 minutes
def test_page_answers_classifies_and_compares(browser, full_server, full_client, tmp_path):
    url, _ = full_server
    page, problems = offline_page(browser, url)
    page.goto(url + "/")
    page.wait_for_function("document.getElementById('status').textContent.startsWith('ready')", timeout=20000)

    # the prefilled examples' results are shown on load, before any click
    mark = page.wait_for_selector("#qa-highlight mark", timeout=30000)
    first = full_client.post("/answer", json={"question": page.input_value("#qa-question"), "context": page.input_value("#qa-context"), "top_k": 3}).json()
    shown = first if not first["no_answer"] else next(c for c in first["candidates"] if c["text"])
    assert mark.text_content() == shown["text"]
    page.wait_for_function("document.getElementById('clf-result').textContent.includes('%')", timeout=30000)
    assert page.text_content("#clf-result").startswith("positive") and page.locator("#clf-tokens span").count() >= 5
    page.wait_for_function("[...document.querySelectorAll('#sim-table tbody tr td:nth-child(2)')].filter(td => td.textContent).length === 4",
                           timeout=30000)
    assert page.locator("#tag-panel").is_hidden()  # no tagger served

    context = page.input_value("#qa-context")
    question = "In which year did he travel the river?"
    page.fill("#qa-question", question)
    page.evaluate("document.getElementById('qa-highlight').replaceChildren()")  # the next mark is this question's
    page.click("#qa-ask")
    mark = page.wait_for_selector("mark.answer, mark.guess", timeout=30000)
    expected = full_client.post("/answer", json={"question": question, "context": context, "top_k": 3}).json()
    # an answer is marked as such; a span the null threshold rejected is still shown, marked as a guess
    best = expected if not expected["no_answer"] else next(c for c in expected["candidates"] if c["text"])
    assert mark.get_attribute("class") == ("guess" if expected["no_answer"] else "answer")
    assert mark.text_content() == best["text"] == context[best["start"] : best["end"]] == "1542"
    assert ("No answer at the model's null threshold" in page.text_content("#qa-result")) == expected["no_answer"]
    confident = "How many trees does the rainforest have?"
    page.fill("#qa-question", confident)
    page.evaluate("document.getElementById('qa-highlight').replaceChildren()")
    page.click("#qa-ask")
    mark = page.wait_for_selector("mark.answer", timeout=30000)
    expected = full_client.post("/answer", json={"question": confident, "context": context}).json()
    assert not expected["no_answer"] and mark.text_content() == expected["text"] == context[expected["start"] : expected["end"]]
    assert page.text_content("#qa-highlight") == context  # the whole context, the answer marked in place
    assert page.locator("#qa-curve polyline").count() == 2

    page.fill("#clf-text", "a gorgeous, witty, seductive movie")
    page.evaluate("document.getElementById('clf-tokens').replaceChildren()")
    page.click("#clf-run")
    page.wait_for_selector("#clf-tokens span", timeout=30000)
    assert page.text_content("#clf-result").startswith("positive")
    shades = page.eval_on_selector_all("#clf-tokens span", "els => els.map(e => e.style.background)")
    assert len(shades) >= 5 and len(set(shades)) > 1  # tokens shaded by their attention weight

    page.evaluate("document.querySelector('#sim-table tbody').replaceChildren()")
    page.click("#sim-run")
    page.wait_for_function("document.querySelectorAll('#sim-table tbody tr td:nth-child(2)').length === 4 && "
                           "[...document.querySelectorAll('#sim-table tbody tr td:nth-child(2)')].every(td => td.textContent)", timeout=30000)
    cosines = [float(x) for x in page.eval_on_selector_all("#sim-table tbody td:nth-child(2)", "els => els.map(e => e.textContent)")]
    assert len(cosines) == 4 and all(-1 <= c <= 1 for c in cosines)

    shot = tmp_path / "serve-page.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    if os.environ.get("BERTKIT_SCREENSHOT"):  # keep a copy to look at
        page.screenshot(path=os.environ["BERTKIT_SCREENSHOT"], full_page=True)
    page.close()
    assert problems == []


@pytest.mark.slow  # over ~1.3 s: the default suite stays under 3 minutes
def test_docs_render_every_operation_offline(browser, full_server, full_client):
    url, _ = full_server
    page, problems = offline_page(browser, url)
    page.goto(url + "/docs")
    spec = full_client.get("/openapi.json").json()
    operations = sum(1 for ops in spec["paths"].values() for method in ops if method in ("get", "post", "put", "delete", "patch"))
    page.wait_for_function(f"document.querySelectorAll('.opblock').length === {operations}", timeout=30000)
    summaries = page.eval_on_selector_all(".opblock-summary-path", "els => els.map(e => e.textContent.trim())")
    assert {"/embed", "/predict", "/answer", "/"} <= {s.replace("\u200b", "") for s in summaries}
    page.close()
    assert problems == []  # Swagger UI's script, styles and icon all came from the server


@pytest.mark.slow  # over ~1.3 s: the default suite stays under 3 minutes
def test_tag_panel_shows_entities_on_load(browser, tagger_dir):
    options = ServeOptions(tag=str(tagger_dir), serve_embed=False, serve_classify=False, serve_qa=False, device="cpu")
    with running(options) as (url, _, _):
        page, problems = offline_page(browser, url)
        page.goto(url + "/")
        page.wait_for_function("document.getElementById('tag-result').textContent && !document.getElementById('tag-result').textContent.startsWith('…')",
                               timeout=30000)
        assert page.locator("#qa-panel").is_hidden() and page.locator("#clf-panel").is_hidden() and page.locator("#sim-panel").is_hidden()
        text = page.input_value("#tag-text")
        expected = httpx.post(url + "/tag", json={"inputs": text}, timeout=30).json()
        marks = page.eval_on_selector_all("#tag-highlight mark.entity", "els => els.map(e => [e.dataset.type, e.firstChild.textContent])")
        assert marks == [[e["type"], e["text"]] for e in expected]
        plain = "el => { const c = el.cloneNode(true); c.querySelectorAll('sup').forEach(x => x.remove()); return c.textContent; }"
        assert page.eval_on_selector("#tag-highlight", plain) == text  # the whole text, the entities marked in place
        candidates = ["i met carol smith in new york .", "i met bob in rome .", "Alice  went to Paris!"]
        found = [(t, e) for t in candidates if (e := httpx.post(url + "/tag", json={"inputs": t}, timeout=30).json())]
        assert found, "the tiny tagger should find some entity"
        other, expected = found[0]
        page.fill("#tag-text", other)
        page.evaluate("document.getElementById('tag-highlight').replaceChildren()")
        page.click("#tag-run")
        page.wait_for_function(f"document.querySelectorAll('#tag-highlight mark.entity').length === {len(expected)}", timeout=30000)
        assert page.eval_on_selector_all("#tag-highlight mark.entity", "els => els.map(e => e.dataset.type)") == [e["type"] for e in expected]
        page.close()
    assert problems == []
