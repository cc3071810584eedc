"""The web page in a real headless Chromium (Playwright): ask a question, see the answer highlighted."""

from __future__ import annotations

import os

import pytest

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


def test_page_answers_classifies_and_compares(browser, full_server, full_client, tmp_path):
    url, _ = full_server
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.goto(url + "/")
    page.wait_for_function("document.getElementById('status').textContent.startsWith('ready')", timeout=20000)

    context = page.input_value("#qa-context")
    question = "In which year did he travel the river?"
    page.fill("#qa-question", question)
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
    page.click("#qa-ask")
    mark = page.wait_for_selector("mark.answer", timeout=30000)
    expected = full_client.post("/answer", json={"question": confident, "context": context}).json()
    assert not expected["no_answer"] and mark.text_content() == expected["text"] == context[expected["start"] : expected["end"]]
    assert page.text_content("#qa-highlight") == context  # the whole context, the answer marked in place
    assert page.locator("#qa-curve polyline").count() == 2

    page.fill("#clf-text", "a gorgeous, witty, seductive movie")
    page.click("#clf-run")
    page.wait_for_selector("#clf-tokens span", timeout=30000)
    assert page.text_content("#clf-result").startswith("positive")
    shades = page.eval_on_selector_all("#clf-tokens span", "els => els.map(e => e.style.background)")
    assert len(shades) >= 5 and len(set(shades)) > 1  # tokens shaded by their attention weight

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
