"""A crawler starts from the home page and follows every link on this deployment: no broken link.

Like a browser, it asks for HTML, follows redirects (the 303s of ``/id/``), reads ``<a href>``,
``<link href>``, ``<script src>`` and ``<img src>``, and stays on the server's own origin. Every page
it reaches is crawled in turn; other answers (Turtle, JSON-LD, CSS...) only have to succeed. A
redirect's target is queued like a link, so a page that is both linked and redirected to (``/doc/x``,
from ``/id/x``) is fetched once.

The links are the service's own, written the same whichever store answers: the crawl runs over the
embedded store only (``EMBEDDED_ONLY_MODULES`` in tests/conftest.py); tests/test_linked_data.py opens
every resource's page and documents over the remote stores.

Pages link vocabulary terms to this deployment's ``/ontology#term`` (their canonical IRIs may not
resolve), so each such fragment must also land on a term of the ontology page.
"""

from __future__ import annotations

import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from html.parser import HTMLParser
from urllib.parse import urldefrag, urljoin, urlsplit

import pytest
import requests

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


class Ids(HTMLParser):
    def __init__(self):
        super().__init__()
        self.found: set[str] = set()

    def handle_starttag(self, tag, attrs):
        self.found.update(value for name, value in attrs if name == "id" and value)


class Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs):
        wanted = {"a": "href", "link": "href", "script": "src", "img": "src"}.get(tag)
        for name, value in attrs:
            if name == wanted and value:
                self.found.append(value)


@pytest.mark.slow
def test_every_link_from_the_home_page_answers(server):
    origin = urlsplit(server.url).netloc
    start = server.url + "/"
    seen = {start}
    referrers: dict[str, str] = {start: "(start)"}
    queue = deque([start])
    broken: list[str] = []
    pages = 0
    term_links: dict[str, str] = {}  # fragment on /ontology → a page linking to it

    local = threading.local()
    sessions: list[requests.Session] = []

    def fetch(url: str):
        http = getattr(local, "http", None)
        if http is None:  # one connection per crawling thread, kept alive
            http = local.http = requests.Session()
            sessions.append(http)
        return url, http.get(url, headers={"Accept": BROWSER_ACCEPT}, timeout=30, allow_redirects=False)

    def follow(url: str, href: str) -> None:
        target, fragment = urldefrag(urljoin(url, href))
        if urlsplit(target).netloc != origin or urlsplit(target).scheme not in ("http", "https"):
            return  # another site: not this deployment's to answer
        if fragment and urlsplit(target).path == "/ontology":
            term_links.setdefault(fragment, url)
        if target not in seen:
            seen.add(target)
            referrers[target] = url
            queue.append(target)

    try:
        with ThreadPoolExecutor(max_workers=4) as pool:
            while queue:
                batch = [queue.popleft() for _ in range(len(queue))]
                for url, r in pool.map(fetch, batch):
                    if r.status_code >= 400:
                        broken.append(f"{r.status_code} {url} (linked from {referrers[url]})")
                        continue
                    if r.is_redirect:
                        follow(url, r.headers["Location"])
                        continue
                    if not r.headers.get("Content-Type", "").startswith("text/html"):
                        continue
                    pages += 1
                    parser = Links()
                    parser.feed(r.text)
                    for href in parser.found:
                        follow(url, href)
    finally:
        for http in sessions:
            http.close()
    assert not broken, f"{len(broken)} broken link(s):\n" + "\n".join(broken[:30])
    # The crawl reached the resource pages, the ontology and the formats, not just the home page.
    assert pages > 50
    assert any(u.endswith("/doc/kpo.ttl") for u in seen) and any("/ontology" in u for u in seen)
    # Vocabulary terms on the pages open the ontology page at that term.
    assert "requiresSkill" in term_links
    anchors = Ids()
    anchors.feed(requests.get(server.url + "/ontology", headers={"Accept": BROWSER_ACCEPT}, timeout=30).text)
    missing = sorted(f"#{f} (linked from {term_links[f]})" for f in set(term_links) - anchors.found)
    assert not missing, "links to terms the ontology page does not have:\n" + "\n".join(missing[:30])
