"""The KPO page in a real headless browser (Debian's Chromium, driven by selenium).

Checks what a reader sees after CSS and layout: the label, definition, "$24 per hour" and the source
sentence are visible; each statement shows its kind (quoted, read, editorial), told apart by word and
colour, with the reading notes of what we read into the source; the page fits a phone's width; the
keyboard reaches the skip link first. Screenshots are written to ``test-artifacts/`` for review.
"""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if not (shutil.which(CHROMEDRIVER) and shutil.which(CHROMIUM)):
        pytest.fail("chromium and chromium-driver are needed (make browser installs them)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1280,2000",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
    ):
        options.add_argument(arg)
    # An explicit driver path: selenium-manager never runs, nothing is downloaded.
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def test_kpo_page_shows_its_facts_and_is_saved_as_a_screenshot(server, browser, select, repo_root: Path):
    from selenium.webdriver.common.by import By

    row = select(
        "SELECT ?label ?definition ?value ?quote WHERE { outd:kpo skos:prefLabel ?label ; "
        "skos:definition ?definition ; out:averageEarnings ?e . ?e schema:value ?value ; "
        "out:evidenceText ?quote FILTER(LANG(?label) = 'en') }"
    )[0]
    browser.get(f"{server.url}/doc/kpo")
    heading = browser.find_element(By.TAG_NAME, "h1")
    assert row["label"] in heading.text and heading.is_displayed()
    body = browser.find_element(By.TAG_NAME, "body").text  # rendered, visible text only
    assert row["definition"] in body
    money = f"${Decimal(row['value']):.0f} per hour"
    assert money in body
    assert row["quote"] in body
    assert browser.execute_script("return document.styleSheets.length") >= 1  # the stylesheet loaded
    # The whole page in one picture: grow the window to the document's height first.
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(1280, min(height + 120, 8000))
    out = repo_root / "test-artifacts"
    out.mkdir(exist_ok=True)
    browser.save_screenshot(str(out / "kpo-page.png"))
    assert (out / "kpo-page.png").stat().st_size > 10_000


def test_kpo_page_fits_a_phone_and_works_from_the_keyboard(server, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    browser.set_window_size(390, 844)
    try:
        browser.get(f"{server.url}/doc/kpo")
        overflow = browser.execute_script(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 1, f"the page is {overflow}px wider than a phone screen"
        browser.find_element(By.TAG_NAME, "body").send_keys(Keys.TAB)
        focused = browser.switch_to.active_element
        assert focused.get_attribute("class") == "skip" and focused.is_displayed()
        focused.send_keys(Keys.ENTER)
        assert browser.execute_script("return location.hash") == "#main"
    finally:
        browser.set_window_size(1280, 2000)


def test_kinds_of_statement_are_visible_and_told_apart(server, browser, repo_root: Path):
    from selenium.webdriver.common.by import By

    browser.get(f"{server.url}/doc/kpo")
    badges = [b for b in browser.find_elements(By.CSS_SELECTOR, ".statement-kind") if b.is_displayed()]
    by_kind: dict[str, set[str]] = {}
    for badge in badges:
        by_kind.setdefault(badge.get_attribute("data-kind"), set()).add(badge.value_of_css_property("background-color"))
    assert {"quoted", "read", "editorial"} <= set(by_kind), by_kind
    assert "unmarked" not in by_kind
    # Each kind has one colour of its own (and its word: colour is never the only sign).
    assert all(len(colours) == 1 for colours in by_kind.values()), by_kind
    assert len({c for k in ("quoted", "read", "editorial") for c in by_kind[k]}) == 3
    # The definition is our wording of the article's sentence: marked read, with the note on screen.
    definition = browser.find_element(By.CSS_SELECTOR, ".definition")
    assert definition.find_element(By.CSS_SELECTOR, ".statement-kind").text.lower() == "read"
    note = definition.find_element(By.CSS_SELECTOR, ".reading-note")
    assert note.is_displayed() and note.text.startswith("Our reading:")
    # "such as investment analysis": a reading, not the article's requirement, and the page says why.
    skill = browser.find_element(By.LINK_TEXT, "investment analysis").find_element(By.XPATH, "./ancestor::li[1]")
    assert skill.find_element(By.CSS_SELECTOR, ".statement-kind").text.lower() == "read"
    assert "such as" in skill.find_element(By.CSS_SELECTOR, ".reading-note").text
    english = browser.find_element(By.LINK_TEXT, "frequent contact with international clients")
    assert english.find_element(By.XPATH, "./ancestor::li[1]").find_element(
        By.CSS_SELECTOR, ".statement-kind").text.lower() == "quoted"
    # The comparison: every value in every cell shows its kind, on screen.
    browser.get(f"{server.url}/api/compare?types=bpo,kpo&format=html")
    values = browser.find_elements(By.CSS_SELECTOR, "table.compare div.value")
    assert len(values) >= 20
    for value in values:
        badge = value.find_element(By.CSS_SELECTOR, ".statement-kind")
        assert badge.is_displayed() and badge.text.lower() in ("quoted", "read", "editorial"), value.text
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(1280, min(height + 120, 8000))
    out = repo_root / "test-artifacts"
    out.mkdir(exist_ok=True)
    browser.save_screenshot(str(out / "compare-kinds.png"))
    browser.set_window_size(1280, 2000)
