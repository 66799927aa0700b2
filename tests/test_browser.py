"""The KPO page in a real headless browser (Debian's Chromium, driven by selenium).

Checks what a reader sees after CSS and layout: the label, definition, "$24 per hour" and the source
sentence are visible; the page fits a phone's width; the keyboard reaches the skip link first. A
screenshot is written to ``test-artifacts/kpo-page.png`` for review.
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
