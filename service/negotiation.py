"""Content negotiation: which row of the media-type table (``kg.formats``) answers this request.

Why a module of its own: choosing by ``Accept`` is HTTP, so it cannot live in the core, and every
route that offers more than one format (``/sparql``, ``/doc``, ``/ontology``, VoID, the API, error
answers) must choose by the same rules. The header is read by werkzeug (``request.accept_mimetypes``,
RFC 9110 §12.5.1: media ranges, q-values, wildcards, parameters); this module only weighs each
offered format against what werkzeug read:

- a name the URL gives (``?format=``, an extension) wins over Accept; a name the route does not offer
  is ``NotAcceptable`` (406);
- no Accept, or no valid media range in it (werkzeug drops a range whose q is not a qvalue; one that
  is not ``type/subtype`` is ignored here), is no preference: the route's first format, its default
  (RFC 9110 lets a server disregard a field it cannot read);
- otherwise a format gets the weight of the most specific range that matches it, so ``q=0`` excludes
  it even when ``*/*`` would take it; the heaviest wins, then the one named by the more specific range,
  then the route's order; nothing above 0 is ``NotAcceptable`` (406, listing what is available);
- a format is matched as it is sent: with ``charset=utf-8`` when its Content-Type carries one, so
  ``text/turtle;charset=utf-8`` matches Turtle and ``text/turtle;charset=latin-1`` does not;
- the other media types of a row (``application/json`` for SPARQL JSON and JSON-LD, ``text/plain`` for
  N-Triples) count only when the client names them exactly, never through a wildcard: ``text/*`` is
  not a request for N-Triples, which is sent as ``application/n-triples``;
- an answer chosen by Accept carries ``Vary: Accept``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence

from flask import Response, after_this_request, request
from werkzeug.datastructures import MIMEAccept
from werkzeug.http import parse_accept_header

from kg.formats import Format, NotAcceptable, by_name

#: ``format=`` values SPARQL clients send that mean another row when the answer is RDF (SPARQLWrapper
#: sends format=xml for RDF/XML and format=json for JSON-LD).
GRAPH_SYNONYMS: Mapping[str, str] = {"xml": "rdfxml", "rdf+xml": "rdfxml", "json": "jsonld", "n3": "turtle"}

# How specific a client's range is (RFC 9110 §12.5.1): */* < type/* < type/subtype < with parameters.
_ANY, _TYPE, _EXACT, _PARAMS = range(4)
# A media range's type/subtype: two RFC 9110 tokens; "*/subtype" is not a range.
_TOKEN = r"[!#$%&'*+.^_`|~0-9a-z-]+"
_RANGE = re.compile(rf"(?:\*/\*|(?!\*/){_TOKEN}/{_TOKEN})")


def choose(offered: Sequence[Format], requested: str | Sequence[str] | None = None, *,
           synonyms: Mapping[str, str] | None = None) -> Format:
    """The format to answer this request in, among ``offered`` (the first is the default).

    ``requested`` are names from the URL (``?format=`` values, an extension): the first one offered
    wins, and names given but none offered raise NotAcceptable. Without them, Accept decides.
    """
    names = [requested] if isinstance(requested, str) else list(requested or ())
    names = [n.strip() for n in names if n and n.strip()]
    if names:
        for name in names:
            fmt = _resolve(name, synonyms)
            if fmt is not None and fmt in offered:
                return fmt
        raise NotAcceptable(offered, ", ".join(names))
    after_this_request(_vary_on_accept)
    header = request.headers.get("Accept", "")
    if len(header) <= _REMEMBERED_HEADER:
        chosen = _remembered_best(header, tuple(offered))
    else:
        chosen = best(request.accept_mimetypes, offered)
    if chosen is None:
        raise NotAcceptable(offered, request.headers.get("Accept", ""))
    return chosen


#: Accept headers up to this length have their choice remembered: clients send a handful of distinct
#: headers, and weighing one costs more than the rest of a cheap request's negotiation.
_REMEMBERED_HEADER = 1024


@functools.lru_cache(maxsize=512)
def _remembered_best(header: str, offered: tuple[Format, ...]) -> Format | None:
    return best(_accept(header), offered)


def _accept(header: str) -> MIMEAccept:
    # The same parse werkzeug gives ``request.accept_mimetypes``.
    return parse_accept_header(header, MIMEAccept)


def for_query(offered: Sequence[Format], requested: Sequence[str] = ()) -> Format:
    """The format of a SPARQL answer: a ``format=`` value the answer can use wins, then Accept.

    ``offered`` is what the query's form can be answered in (``kg.query.sparql.offered_formats``).
    Values that name no format are ignored (clients send several spellings); one that names a format
    the answer cannot use raises NotAcceptable. For an RDF answer, ``GRAPH_SYNONYMS`` apply.
    """
    synonyms = GRAPH_SYNONYMS if offered and all(f.ox_rdf is not None for f in offered) else None
    known = [v for v in requested if v and v.strip() and _resolve(v, synonyms) is not None]
    return choose(offered, known, synonyms=synonyms)


def best(accept: MIMEAccept, offered: Sequence[Format]) -> Format | None:
    """The format a client sending ``accept`` prefers among ``offered``; the first when it states no
    preference, None when it accepts none of them."""
    offered = list(offered)
    if not offered:
        return None
    ranges = _Ranges(accept)
    if not ranges.valid:
        return offered[0]
    ranked = []
    for position, fmt in enumerate(offered):
        match = ranges.governing(fmt)
        if match is not None and match[0] > 0:
            ranked.append((match[0], match[1], -position, fmt))
    return max(ranked, key=lambda r: r[:3])[3] if ranked else None


def weight(accept: MIMEAccept, fmt: Format) -> float:
    """The client's weight for ``fmt``: that of the range that decides it, 0 when none matches it,
    1 when the client states no preference."""
    ranges = _Ranges(accept)
    if not ranges.valid:
        return 1.0
    match = ranges.governing(fmt)
    return match[0] if match is not None else 0.0


# -- the weighing -------------------------------------------------------------------------------------

class _Ranges:
    """The client's media ranges indexed by ``type/subtype`` in one pass, so that weighing a format
    looks at the few ranges that can match it, however many the header lists (an Accept of thousands
    of ranges costs one pass, not one per format and name).

    Dropped on the way, none of which werkzeug's matching could select: what is not a media range;
    a repeat of a wildcard (``text/*`` matches whatever its parameters, so the first in werkzeug's order
    decides); a repeat of an exact range with the same parameters; an exact range with parameters other
    than ``charset=utf-8``, which no format here is sent with.
    """

    def __init__(self, accept: MIMEAccept):
        self.valid = False
        self.by_essence: dict[str, list[tuple[str, float]]] = {}
        seen: set[tuple[str, str]] = set()
        for media_range, q in accept:  # werkzeug's order: most specific first, then heaviest
            essence = _essence(media_range)
            if not _RANGE.fullmatch(essence):
                continue
            self.valid = True
            params = _parameters(media_range)
            if essence.endswith("/*"):
                key = (essence, "")
            elif params in ("", "charset=utf-8"):
                key = (essence, params)
            else:
                continue
            if key not in seen:
                seen.add(key)
                self.by_essence.setdefault(essence, []).append((media_range, q))

    def governing(self, fmt: Format) -> tuple[float, int, bool] | None:
        """(q, specificity, by its own media type) of the client's range that decides ``fmt``: the most
        specific range matching the media type it is sent as, unless a range naming one of its other
        media types exactly is more specific; None when no range matches."""
        wildcards = [*self.by_essence.get(fmt.media_type.partition("/")[0] + "/*", ()),
                     *self.by_essence.get("*/*", ())]
        found: list[tuple[int, bool, float]] = []
        for name, own in [(fmt.media_type, True), *((alias, False) for alias in fmt.media_aliases)]:
            exact = self.by_essence.get(name, [])
            # Another media type of the row counts only where the client names it: no wildcards.
            ranges = [*exact, *wildcards] if own else exact
            if not ranges:
                continue
            accept = MIMEAccept(ranges)
            # The media type as sent: with its charset when it carries one and a range names one.
            values = [name]
            if fmt.charset and any(_parameters(r) for r, _ in exact):
                values.append(f"{name};charset=utf-8")
            for value in values:
                # ``find`` is werkzeug's match (wildcards, case, parameters) over the ranges sorted most
                # specific first, and at equal specificity heaviest first.
                index = accept.find(value)
                if index >= 0:
                    media_range, q = accept[index]
                    found.append((_specificity(media_range), own, q))
        if not found:
            return None
        level, own, q = max(found, key=lambda f: (f[0], f[1]))
        return q, level, own


def _essence(media_range: str) -> str:
    return media_range.partition(";")[0].strip().lower()


def _parameters(media_range: str) -> str:
    parts = (p.strip().lower() for p in media_range.partition(";")[2].split(";"))
    return ";".join(sorted(p for p in parts if p))


def _specificity(media_range: str) -> int:
    kind, _, sub = _essence(media_range).partition("/")
    if kind == "*":
        return _ANY
    if sub == "*":
        return _TYPE
    return _PARAMS if _parameters(media_range) else _EXACT


def _resolve(name: str, synonyms: Mapping[str, str] | None) -> Format | None:
    wanted = name.strip().lower()
    return by_name(synonyms.get(wanted, wanted) if synonyms else wanted)


def _vary_on_accept(response: Response) -> Response:
    # Read as plain text first: most answers say Vary: Accept already (and a request negotiates up
    # to twice), and Werkzeug's header set parses and writes the header back on every call.
    vary = response.headers.get("Vary")
    if vary is None:
        response.headers["Vary"] = "Accept"
    elif "accept" not in {name.strip().lower() for name in vary.split(",")}:
        response.vary.add("Accept")
    return response
