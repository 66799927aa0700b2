"""Linked data: every thing in the graph dereferenceable, in every RDF format and as a page.

Follows W3C "Cool URIs for the Semantic Web" (303 See Other from the thing to its document) and "Best
Practice Recipes for Publishing RDF Vocabularies" (hash vocabulary served as one document, content
negotiation with an HTML fallback):

- ``/id/{slug}``: the thing; 303 to ``/doc/{slug}`` (404 when the graph knows nothing of it);
- ``/doc/{slug}[.ttl|.jsonld|.rdf|.nt|.html]``: its description, by extension or by Accept (q-values);
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
"""

from __future__ import annotations

import json
import re
from urllib.parse import quote

from flask import Blueprint, Response, redirect, render_template, request

from kg.formats import BY_KEY, Format
from kg.linked_data.description import about_query, describe, exists, published
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


def variant_headers(doc_url: str, fmt: Format | None) -> dict[str, str]:
    """Vary, Content-Location and the Link header naming every other format of the document."""
    links = [
        f'<{doc_url}.{f.extension}>; rel="alternate"; type="{f.media_type}"'
        for f in DOC_FORMATS
        if f is not fmt
    ]
    headers = {"Vary": "Accept", "Link": ", ".join(links)}
    if fmt is not None:
        headers["Content-Location"] = f"{doc_url}.{fmt.extension}"
    return headers


def vocabulary_link(rw: Rewriter) -> str:
    """``Link`` entry saying where this deployment serves the vocabulary the answer's terms come from.

    The context of the link is the ontology (``anchor``), not the answer: the terms keep their canonical
    IRIs, whose address may not resolve, and this document describes them here (RFC 8288 §3.2).
    """
    return f'<{rw.base}ontology>; rel="describedby"; anchor="{current_kg().config.ontology_iri}"'


def valid_slug(slug: str) -> bool:
    """Whether ``slug`` may name a thing here (and so may appear in a header)."""
    return SLUG.fullmatch(slug) is not None


def formats_for_page(doc_url: str) -> list[dict[str, str]]:
    return [
        {"label": f.label, "href": f"{doc_url}.{f.extension}", "type": f.media_type}
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
    """The description of one thing, by extension or Accept.

    :raise 404: unknown thing, or unknown extension. :raise 406: no offered format fits Accept.
    """
    kg = current_kg()
    rw = deployment()
    slug, fmt, _ = split_extension(name)
    if not valid_slug(slug):
        return not_found(fmt, f"{slug!r} is not an identifier of this graph", {"Vary": "Accept"})
    doc_url = rw.base + "doc/" + slug
    iri = kg.iri(slug)
    fmt = choose(fmt)
    headers = variant_headers(doc_url, fmt)
    headers["Link"] += ", " + vocabulary_link(rw)
    v = caching.validators(kg, "doc", slug, fmt.key, rw.base)
    if (early := caching.not_modified(v, headers)) is not None:
        return early
    triples = describe(kg, iri)
    if not triples:
        return not_found(fmt, f"the graph knows nothing about {rw.to_public(iri)}", {"Vary": "Accept"})
    if fmt.key == "html":
        view = build_view(iri, triples, kg.config, rw.for_pages())
        html = render_template(
            "resource.html",
            view=view,
            formats=formats_for_page(doc_url),
            sparql=sparql_link(iri, view.title),
            doc_url=doc_url,
        )
        return _finish(Response(html, content_type=fmt.content_type), v, headers)
    out = published(list(rw.triples(triples)), iri, rw.to_public(iri))
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
