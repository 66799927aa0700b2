"""Linked data: every thing in the graph dereferenceable, in every RDF format and as a page.

Follows W3C "Cool URIs for the Semantic Web" (303 See Other from the thing to its document) and "Best
Practice Recipes for Publishing RDF Vocabularies" (hash vocabulary served as one document, content
negotiation with an HTML fallback):

- ``/id/{slug}``: the thing; 303 to ``/doc/{slug}`` (404 when the graph knows nothing of it);
- ``/doc/{slug}[.ttl|.jsonld|.rdf|.nt|.html]``: its description, by extension or by Accept (q-values);
  ``?incoming=N`` selects the page of its incoming links (``INCOMING``, below);
- ``/ontology[.ext]``: the vocabulary document; its hash IRIs (``/ontology#Term``) land on it;
- ``/context.jsonld``: the JSON-LD context, generated from the vocabulary;
- ``/.well-known/void``: the VoID description of the dataset.

Every answer carries ``Vary: Accept``, ``Content-Location`` of the variant sent, ``Link: rel="alternate"``
to the other formats and validators from the graph's version (``service.caching``).

One vocabulary: only the things (``id/`` IRIs) take this deployment's address (``KG_PUBLIC_BASE``, else
the request's host) in documents, each description stating ``owl:sameAs`` its canonical IRI. Classes,
properties, the ontology, shapes and graph names keep their canonical IRIs in every RDF answer and in the
context, exactly as ``/sparql`` speaks them. Where the canonical address of the vocabulary does not
resolve, descriptions say where this deployment serves it, in a header rather than in the data:
``Link: <…/ontology>; rel="describedby"; anchor="<canonical ontology IRI>"``. Pages link vocabulary terms
to ``/ontology#term`` here, for browsing (``docs/linked-data.md``, "One vocabulary").

A slug is checked before anything is built from it: only a slug of RFC 3986 unreserved ASCII characters
ever reaches a header, so a path cannot add or split header fields (``/doc/%0d%0aX-Injected:%201``).

A description holds one page of its resource's incoming links (``kg.linked_data.description``). The page
is a query parameter, as Triple Pattern Fragments and Hydra servers page (``?page=N`` there): one document
per page, each with its own ETag and cache entry, and every other format of the same page at
``.{ext}?incoming=N``. The name says which part of the description is paged. When one page does not hold
every link, the answer says so in the data (Hydra: the collection's ``hydra:totalItems``, this view's
first, previous, next and last pages), in ``Link`` (RFC 8288: ``rel="first"``, ``"prev"``, ``"next"``,
``"last"``, to the same format) and on the page ("N incoming links, showing a–b", with links). A page
number that is not 1, 2, 3… in ASCII digits, is given twice or exceeds ``MAX_PAGE`` is 400; a page past
the last is 404 (the address names no document, and a crawler counting up stops there), both in the
format asked for.
"""

from __future__ import annotations

import json
import re
from urllib.parse import quote

from flask import Blueprint, Response, redirect, render_template, request

from kg.formats import BY_KEY, Format
from kg.linked_data.description import (
    Incoming,
    PageOutOfRange,
    about_query,
    describe_page,
    exists,
    paging_triples,
    published,
)
from kg.linked_data.jsonld_context import build_context, context_document, to_jsonld
from kg.linked_data.ontology_doc import build_ontology_doc
from kg.linked_data.page import build_view
from kg.linked_data.rewrite import Rewriter
from kg.linked_data.void import DATASET_FRAGMENT, void_description
from service import caching, negotiation
from service.current import current_kg
from service.errors import Problem, render

bp = Blueprint("linked_data", __name__)

RDF_FORMATS: tuple[Format, ...] = tuple(BY_KEY[k] for k in ("turtle", "jsonld", "rdfxml", "ntriples"))
#: What a document is offered in; Turtle is the answer for ``*/*`` and no Accept (machine clients).
DOC_FORMATS: tuple[Format, ...] = (*RDF_FORMATS, BY_KEY["html"])

#: A slug as minted by the project and by extensions: ASCII letters, digits and ``-._~`` (RFC 3986
#: unreserved), dots only between other characters. Nothing else may reach a header or a query.
SLUG = re.compile(r"[A-Za-z0-9_~-]+(?:\.[A-Za-z0-9_~-]+)*")

#: The query parameter naming a page of a description's incoming links: ``/doc/kpo?incoming=2``.
INCOMING = "incoming"
#: The highest page number read (a billion links at 100 a page); a longer number is refused unread.
MAX_PAGE = 10_000_000
#: A page number as written in a link: ASCII digits, no sign, no leading zero (one address per page).
PAGE_NUMBER = re.compile(r"[1-9][0-9]*")
#: How much of a refused value an error repeats.
ECHO = 40


# -- helpers -----------------------------------------------------------------------------------------
def deployment() -> Rewriter:
    """The rewriter for the address this request reached the service at."""
    kg = current_kg()
    return Rewriter.for_config(kg.config, kg.config.public_base or request.host_url)


def split_extension(name: str) -> tuple[str, Format | None, str | None]:
    """``kpo.ttl`` → (``kpo``, Turtle, ``ttl``); a name without a known extension is all slug."""
    stem, dot, ext = name.rpartition(".")
    if dot:
        for f in DOC_FORMATS:
            if ext.lower() == f.extension:
                return stem, f, ext
    return name, None, None


def choose(fmt: Format | None) -> Format:
    """The format asked for by extension, else negotiated from Accept (406 listing DOC_FORMATS when none fits)."""
    return fmt if fmt is not None else negotiation.choose(DOC_FORMATS)


def variant_headers(doc_url: str, fmt: Format | None, page: int = 1) -> dict[str, str]:
    """Vary, Content-Location and the Link header naming every other format of the document (of the
    same page of incoming links)."""
    links = [
        f'<{page_url(f"{doc_url}.{f.extension}", page)}>; rel="alternate"; type="{f.media_type}"'
        for f in DOC_FORMATS
        if f is not fmt
    ]
    headers = {"Vary": "Accept", "Link": ", ".join(links)}
    if fmt is not None:
        headers["Content-Location"] = page_url(f"{doc_url}.{fmt.extension}", page)
    return headers


def page_url(url: str, page: int) -> str:
    """The address of page ``page`` of the incoming links of the document at ``url``: page 1 is the
    document's own address, so each page has one."""
    return url if page == 1 else f"{url}?{INCOMING}={page}"


def incoming_page() -> int | str:
    """The page of incoming links the request asks for (1 when it names none), or why it cannot be read."""
    values = request.args.getlist(INCOMING)
    if not values:
        return 1
    if len(values) > 1:
        return f"give the {INCOMING} parameter once; it was given {len(values)} times"
    value = values[0]
    if PAGE_NUMBER.fullmatch(value) is None:
        shown = value if len(value) <= ECHO else value[:ECHO] + "…"
        return (f"the {INCOMING} parameter is the number of a page of incoming links, 1, 2, 3…, written in "
                f"ASCII digits without sign or leading zero; got {shown!r}")
    if len(value) > len(str(MAX_PAGE)) or int(value) > MAX_PAGE:
        shown = value if len(value) <= ECHO else value[:ECHO] + "…"
        return f"page numbers of incoming links go up to {MAX_PAGE}; got {shown}"
    return int(value)


def paging_links(url: str, incoming: Incoming) -> list[str]:
    """``Link`` entries to the first, previous, next and last pages (RFC 8288), in the format of ``url``;
    none when one page holds every link."""
    if not incoming.partial:
        return []
    rels = (("first", 1), ("prev", incoming.previous), ("next", incoming.next), ("last", incoming.pages))
    return [f'<{page_url(url, n)}>; rel="{rel}"' for rel, n in rels if n is not None]


def pager(url: str, incoming: Incoming) -> dict | None:
    """What a page shows of where it sits among the incoming links (``_incoming_pages.html``)."""
    if not incoming.partial:
        return None

    def href(n: int | None) -> str | None:
        return page_url(url, n) if n is not None else None

    return {"total": incoming.total, "first": incoming.first, "last": incoming.last, "page": incoming.page,
            "pages": incoming.pages, "first_href": href(1) if incoming.page > 1 else None,
            "previous_href": href(incoming.previous), "next_href": href(incoming.next),
            "last_href": href(incoming.pages) if incoming.page < incoming.pages else None}


def vocabulary_link(rw: Rewriter) -> str:
    """``Link`` entry saying where this deployment serves the vocabulary the answer's terms come from.

    The context of the link is the ontology (``anchor``), not the answer: the terms keep their canonical
    IRIs, whose address may not resolve, and this document describes them here (RFC 8288 §3.2).
    """
    return f'<{rw.base}ontology>; rel="describedby"; anchor="{current_kg().config.ontology_iri}"'


def valid_slug(slug: str) -> bool:
    """Whether ``slug`` may name a thing here (and so may appear in a header)."""
    return SLUG.fullmatch(slug) is not None


def formats_for_page(doc_url: str, page: int = 1) -> list[dict[str, str]]:
    return [
        {"label": f.label, "href": page_url(f"{doc_url}.{f.extension}", page), "type": f.media_type}
        for f in DOC_FORMATS
        if f.key != "html"
    ]


def not_found(fmt: Format | None, detail: str, headers: dict[str, str]) -> Response:
    """404 in the format the client asked for by extension, else negotiated (``service.errors.render``)."""
    kept = {name: value for name, value in headers.items() if name != "Content-Location"}
    return render(Problem(404, "Not Found", detail, headers=kept), fmt)


def rdf_response(triples, fmt: Format) -> Response:
    """RDF in ``fmt``, with the project's prefixes (JSON-LD: its context), which mean the same everywhere."""
    kg = current_kg()
    if fmt.key == "jsonld":
        body = to_jsonld(list(triples), build_context(kg))
    else:
        from kg.formats import serialize_triples

        body = serialize_triples(list(triples), fmt, kg.prefixes)
    return Response(body, content_type=fmt.content_type)


def sparql_link(canonical: str, label: str) -> str:
    """The SPARQL editor pre-filled with a query about one resource (SPARQL speaks canonical IRIs)."""
    return "/sparql?query=" + quote(about_query(canonical, label), safe="")


def _finish(response: Response, v: caching.Validators, headers: dict[str, str]) -> Response:
    for name, value in headers.items():
        response.headers[name] = value
    return caching.apply(response, v)


# -- /id and /doc --------------------------------------------------------------------------------------
@bp.get("/id/<path:slug>")
def thing(slug: str):
    """The thing itself: 303 See Other to its description document.

    :raise 404: the graph says nothing about this IRI.
    """
    kg = current_kg()
    rw = deployment()
    if not valid_slug(slug):
        return not_found(None, f"{slug!r} is not an identifier of this graph", {"Vary": "Accept"})
    if not exists(kg, kg.iri(slug)):
        return not_found(None, f"the graph knows nothing about {rw.to_public(kg.iri(slug))}", {"Vary": "Accept"})
    doc_url = rw.base + "doc/" + slug
    headers = variant_headers(doc_url, None)
    response = redirect(doc_url, code=303)
    for name, value in headers.items():
        response.headers[name] = value
    return response


@bp.get("/doc/<path:name>")
def document(name: str):
    """The description of one thing, by extension or Accept; ``?incoming=N`` for page N of its incoming links.

    :raise 400: ``incoming`` is not a page number. :raise 404: unknown thing, unknown extension, or a page
    past the last. :raise 406: no offered format fits Accept.
    """
    kg = current_kg()
    rw = deployment()
    slug, fmt, _ = split_extension(name)
    if not valid_slug(slug):
        return not_found(fmt, f"{slug!r} is not an identifier of this graph", {"Vary": "Accept"})
    page = incoming_page()
    if isinstance(page, str):
        return render(Problem(400, "Bad Request", page, kind="invalid-page", headers={"Vary": "Accept"}), fmt)
    # Paging links go to the same format the client asked for: by extension, or negotiated again.
    asked = f"{rw.base}doc/{slug}.{fmt.extension}" if fmt is not None else None
    doc_url = rw.base + "doc/" + slug
    iri = kg.iri(slug)
    fmt = choose(fmt)
    headers = variant_headers(doc_url, fmt, page)
    headers["Link"] += ", " + vocabulary_link(rw)
    v = caching.validators(kg, "doc", slug, fmt.key, rw.base, *((f"{INCOMING}={page}",) if page > 1 else ()))
    # 304 only for a document that exists (``If-None-Match: *`` names any current one): the first page
    # is known to by one question, before the description is built; a later page once it is.
    if page == 1 and caching.is_fresh(v) and exists(kg, iri):
        return caching.not_modified(v, headers)
    try:
        description = describe_page(kg, iri, page)
    except PageOutOfRange as exc:
        last = page_url(asked or doc_url, exc.incoming.pages)
        return not_found(fmt, f"{exc}; the last page is {last}", {"Vary": "Accept"})
    if not description.triples:
        return not_found(fmt, f"the graph knows nothing about {rw.to_public(iri)}", {"Vary": "Accept"})
    if (early := caching.not_modified(v, headers)) is not None:
        return early
    incoming = description.incoming
    if incoming.partial:
        headers["Link"] += ", " + ", ".join(paging_links(asked or doc_url, incoming))
    if fmt.key == "html":
        view = build_view(iri, description.triples, kg.config, rw.for_pages())
        html = render_template(
            "resource.html",
            view=view,
            formats=formats_for_page(doc_url, page),
            sparql=sparql_link(iri, view.title),
            doc_url=doc_url,
            paging=pager(asked or doc_url, incoming),
        )
        return _finish(Response(html, content_type=fmt.content_type), v, headers)
    out = published(list(rw.triples(description.triples)), iri, rw.to_public(iri))
    # The pages are named by the negotiated address: the same statements in every format.
    out += paging_triples(incoming, f"{doc_url}#{INCOMING}", lambda n: page_url(doc_url, n))
    return _finish(rdf_response(out, fmt), v, headers)


# -- the vocabulary ------------------------------------------------------------------------------------
@bp.get("/ontology")
@bp.get("/ontology.<ext>")
def ontology(ext: str | None = None):
    """The vocabulary document (hash namespace): RDF by Accept or extension, HTML documentation for browsers.

    :raise 404: unknown extension. :raise 406: no offered format fits Accept.
    """
    kg = current_kg()
    rw = deployment()
    doc_url = rw.base + "ontology"
    fmt = None
    if ext is not None:
        fmt = next((f for f in DOC_FORMATS if f.extension == ext.lower()), None)
        if fmt is None:
            return not_found(
                None,
                f"no format with the extension .{ext}; available: "
                + ", ".join("." + f.extension for f in DOC_FORMATS),
                variant_headers(doc_url, None),
            )
    fmt = choose(fmt)
    headers = variant_headers(doc_url, fmt)
    # This document, wherever it is served, describes the ontology by its canonical IRI (RFC 6892).
    headers["Link"] += f', <{kg.config.ontology_iri}>; rel="describes"'
    v = caching.validators(kg, "ontology", fmt.key, rw.base)
    if (early := caching.not_modified(v, headers)) is not None:
        return early
    if fmt.key == "html":
        doc = build_ontology_doc(kg, rw.for_pages())
        html = render_template("ontology.html", doc=doc, formats=formats_for_page(doc_url))
        return _finish(Response(html, content_type=fmt.content_type), v, headers)
    triples = kg.store.graph_triples(kg.graph("vocabulary"))
    return _finish(rdf_response(rw.triples(triples), fmt), v, headers)


@bp.get("/context.jsonld")
def context():
    """The JSON-LD context: short names for every vocabulary term (stable URL, CORS-readable).

    The same document on every deployment: each name stands for the canonical IRI of its term.
    """
    kg = current_kg()
    v = caching.validators(kg, "context")
    headers = {"Vary": "Accept"}
    if (early := caching.not_modified(v, headers)) is not None:
        return early
    body = json.dumps(context_document(kg), ensure_ascii=False, indent=1)
    return _finish(Response(body, content_type="application/ld+json"), v, headers)


# -- VoID ----------------------------------------------------------------------------------------------
@bp.get("/.well-known/void")
def void():
    """VoID description of the dataset, in every RDF format (by Accept) and as a page."""
    kg = current_kg()
    rw = deployment()
    doc_url = rw.base + ".well-known/void"
    fmt = choose(None)
    headers = {
        "Vary": "Accept",
        "Link": ", ".join(
            f'<{doc_url}>; rel="alternate"; type="{f.media_type}"' for f in DOC_FORMATS if f is not fmt
        ),
    }
    v = caching.validators(kg, "void", fmt.key, rw.base)
    if (early := caching.not_modified(v, headers)) is not None:
        return early
    # VoID names the deployment's own endpoint and documents: it is built for this address, not rewritten.
    triples = void_description(kg, rw.base, rw)
    if fmt.key == "html":
        view = build_view(doc_url + "#" + DATASET_FRAGMENT, triples, kg.config, rw.for_pages())
        html = render_template("resource.html", view=view, formats=[], sparql=None, doc_url=doc_url)
        return _finish(Response(html, content_type=fmt.content_type), v, headers)
    return _finish(rdf_response(triples, fmt), v, headers)
