"""A crawler starts from the home page and follows every link on this deployment: no broken link.

Like a browser, it asks for HTML, follows redirects (the 303s of ``/id/``), reads ``<a href>``,
``<link href>``, ``<script src>`` and ``<img src>``, and stays on the server's own origin. Every page
it reaches is crawled in turn; other answers (Turtle, JSON-LD, CSS...) only have to succeed.
"""

from __future__ import annotations

from collections import deque
from concurrent.futures import ThreadPoolExecutor
from html.parser import HTMLParser
from urllib.parse import urldefrag, urljoin, urlsplit

import requests

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


class Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs):
        wanted = {"a": "href", "link": "href", "script": "src", "img": "src"}.get(tag)
        for name, value in attrs:
            if name == wanted and value:
                self.found.append(value)


def test_every_link_from_the_home_page_answers(server):
    origin = urlsplit(server.url).netloc
    start = server.url + "/"
    seen = {start}
    referrers: dict[str, str] = {start: "(start)"}
    queue = deque([start])
    broken: list[str] = []
    pages = 0

    def fetch(url: str):
        with requests.Session() as http:
            return url, http.get(url, headers={"Accept": BROWSER_ACCEPT}, timeout=30)

    with ThreadPoolExecutor(max_workers=4) as pool:
        while queue:
            batch = [queue.popleft() for _ in range(len(queue))]
            for url, r in pool.map(fetch, batch):
                if r.status_code >= 400:
                    broken.append(f"{r.status_code} {url} (linked from {referrers[url]})")
                    continue
                if not r.headers.get("Content-Type", "").startswith("text/html"):
                    continue
                pages += 1
                parser = Links()
                parser.feed(r.text)
                for href in parser.found:
                    target, _ = urldefrag(urljoin(r.url, href))
                    if urlsplit(target).netloc != origin or urlsplit(target).scheme not in ("http", "https"):
                        continue  # another site: not this deployment's to answer
                    if target not in seen:
                        seen.add(target)
                        referrers[target] = url
                        queue.append(target)
    assert not broken, f"{len(broken)} broken link(s):\n" + "\n".join(broken[:30])
    # The crawl reached the resource pages, the ontology and the formats, not just the home page.
    assert pages > 50
    assert any(u.endswith("/doc/kpo.ttl") for u in seen) and any("/ontology" in u for u in seen)
