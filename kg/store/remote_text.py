"""What the remote store does to a SPARQL text before sending it.

Real engines read the protocol differently (``docs/remote-stores.md``): this module scans a text once
(``scan_text``) and rewrites what an engine would misread: the dataset clauses, graph constants, escaped
prefixed names, booleans, and values bound as substitutions (``bind_values``, since the protocol has
no way to send them apart). Every rewrite works on tokens, never inside strings, IRIs or comments.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator

import pyoxigraph as ox

from kg.query.precheck import QUERY_FORMS, reaches_out, tokens

#: A named graph no store holds: the protocol cannot say "no named graphs", but this can.
NO_GRAPH = "urn:x-outsourcing-kg:no-graph"
XSD_DECIMAL = ox.NamedNode("http://www.w3.org/2001/XMLSchema#decimal")


def own_syntax_error(sparql: str, prefixes: dict[str, str] | None, *, update: bool) -> str | None:
    """Oxigraph's message for a text the endpoint rejected, when Oxigraph rejects it too: it says line
    and column in the user's own text (Virtuoso names only the line, counting our prologue), the same
    words the embedded store gives. None when Oxigraph takes the text: only the endpoint refuses it,
    and its own message is the one to show. Parsing needs an evaluation; on an empty store it is
    instant, and a text the engine could read SERVICE (or LOAD) in, glued to a name as the pre-check
    sees it, is never evaluated here."""
    if reaches_out(sparql, prefixes, update=update):
        return None
    kwargs = {"prefixes": prefixes} if prefixes else {}
    try:
        if update:
            ox.Store().update(sparql, **kwargs)
        else:
            ox.Store().query(sparql, **kwargs)
    except SyntaxError as exc:
        return str(exc)
    except Exception:  # noqa: BLE001 - it parses: the endpoint's reason stands
        return None
    return None


@functools.lru_cache(maxsize=1024)
def standard_syntax(sparql: str, prefixes: tuple[tuple[str, str], ...], update: bool) -> str | None:
    """``own_syntax_error`` once per text: the same queries come again and again."""
    return own_syntax_error(sparql, dict(prefixes), update=update)


# -- what a text is, before it is sent -------------------------------------------------------------
class Scan:
    __slots__ = ("form", "has_dataset", "refused")

    def __init__(self, form: str | None, has_dataset: bool, refused: str | None):
        self.form, self.has_dataset, self.refused = form, has_dataset, refused


_UCHAR = re.compile(r"\\u([0-9A-Fa-f]{4})|\\U([0-9A-Fa-f]{8})")
#: Virtuoso's namespaces of SQL functions and stored procedures, predeclared on every query: through
#: them a query can fetch URLs (``bif:http_get``) or read the server's state, outside SPARQL.
_ENGINE_FUNCTIONS = ("bif:", "sql:")


@functools.lru_cache(maxsize=1024)
def scan_text(text: str, declared: frozenset[str]) -> Scan:
    """The text's form (SELECT, ASK, CONSTRUCT, DESCRIBE, or None for an update or an unknown text),
    whether it has FROM clauses, and why it is refused, if it is: engine pragmas (``DEFINE``) and
    the engine's SQL functions are not SPARQL, and reach past its dataset and its network."""
    toks = tokens(text)
    form = None
    has_dataset = False
    prefixes = set(declared)
    refused = None
    for i, (kind, value) in enumerate(toks):
        if kind == "name":
            upper = value.upper()
            if ":" not in value:
                if upper == "DEFINE":
                    refused = "DEFINE pragmas are not SPARQL and are not sent to the store"
                elif upper in QUERY_FORMS and form is None:
                    form = upper
                elif upper == "FROM" and form is not None:
                    has_dataset = True
                elif upper == "PREFIX" and i + 1 < len(toks) and toks[i + 1][0] == "name":
                    prefixes.add(toks[i + 1][1].split(":", 1)[0])
                continue
            prefix = value.split(":", 1)[0]
            if (prefix + ":").lower() in _ENGINE_FUNCTIONS and prefix not in prefixes:
                refused = f"{prefix}: names the engine's SQL functions, which are not SPARQL; refused"
        elif kind == "iri":
            iri = _UCHAR.sub(lambda m: chr(int(m.group(1) or m.group(2), 16)), value[1:-1]).strip().lower()
            if iri.startswith(_ENGINE_FUNCTIONS):
                scheme = iri.split(":", 1)[0]
                refused = f"<{scheme}:...> names the engine's SQL functions, which are not SPARQL; refused"
        if refused:
            break
    return Scan(form, has_dataset, refused)


_CLAUSE = re.compile(
    r"""(?P<skip>'''.*?'''|\"\"\".*?\"\"\"|'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*"|\#[^\n]*)
      |(?P<iri><[^<>"{}|^`\\\x00-\x20]*>)|(?P<open>\{)|(?P<close>\})
      |(?P<name>[^\s<>{}()\[\]'"\#,;]+)""",
    re.VERBOSE | re.DOTALL,
)


def _graph_constants(sparql: str) -> list[tuple[int, int, str | None]]:
    """(start, end, IRI) of every graph a pattern names by a constant (``GRAPH <g>``, ``GRAPH ex:g``); the
    IRI is None when it cannot be resolved here (a relative IRI, an undeclared prefix)."""
    prefixes: dict[str, str] = {}
    out: list[tuple[int, int, str | None]] = []
    significant = [m for m in _CLAUSE.finditer(sparql) if m.lastgroup != "skip"]
    for i, m in enumerate(significant[:-1]):
        if m.lastgroup != "name":
            continue
        word, following = m.group().upper(), significant[i + 1]
        if word == "PREFIX" and i + 2 < len(significant) and significant[i + 2].lastgroup == "iri":
            prefixes[following.group().split(":", 1)[0]] = _iri_text(significant[i + 2].group())
        elif word == "GRAPH" and following.lastgroup == "iri":
            iri = _iri_text(following.group())
            out.append((following.start(), following.end(), iri if ":" in iri else None))
        elif word == "GRAPH" and following.lastgroup == "name" and ":" in following.group() \
                and not following.group().startswith(("?", "$")):
            prefix, _, local = following.group().partition(":")
            base = prefixes.get(prefix)
            out.append((following.start(), following.end(),
                        None if base is None else base + _LOCAL_ESCAPE.sub(r"\1", local)))
    return out


_LOCAL_ESCAPE = re.compile(r"\\(.)")


def expand_escaped_names(sparql: str) -> str:
    """Prefixed names with backslash escapes in their local part (``outg:extension\\/lpo``, standard
    SPARQL 1.1) written out as full IRIs: Virtuoso's parser stops at the backslash."""
    if "\\" not in sparql:
        return sparql
    prefixes: dict[str, str] = {}
    edits: list[tuple[int, int, str]] = []
    significant = [m for m in _CLAUSE.finditer(sparql) if m.lastgroup != "skip"]
    for i, m in enumerate(significant):
        text = m.group()
        if m.lastgroup != "name":
            continue
        if text.upper() == "PREFIX" and i + 2 < len(significant) and significant[i + 2].lastgroup == "iri":
            prefixes[significant[i + 1].group().split(":", 1)[0]] = _iri_text(significant[i + 2].group())
        elif ":" in text and "\\" in text and not text.startswith(("?", "$", "_:")):
            name = text.rstrip(".")  # a name never ends with a dot; the triple's full stop follows it
            prefix, _, local = name.partition(":")
            if prefix in prefixes:
                iri = prefixes[prefix] + _LOCAL_ESCAPE.sub(r"\1", local)
                edits.append((m.start(), m.start() + len(name), str(ox.NamedNode(iri))))
    for start, end, replacement in reversed(edits):
        sparql = sparql[:start] + replacement + sparql[end:]
    return sparql


def _iri_text(token: str) -> str:
    return _UCHAR.sub(lambda m: chr(int(m.group(1) or m.group(2), 16)), token[1:-1])


def name_graph_constants(sparql: str, named: list[str], *, ours: bool) -> tuple[str, list[str]]:
    """Virtuoso evaluates ``GRAPH <g> { ... }`` as if it matched once, with nothing bound, when the
    request lists named graphs and ``<g>`` is not among them (ASK is then true, COUNT(*) 1). So a graph
    the query names by a constant is always listed: added to a list the store made (the union of its
    graphs), or, when the caller chose the named graphs and left it out, replaced by a graph that does
    not exist, which matches nothing, as the standard says."""
    spans = _graph_constants(sparql)
    listed = set(named)
    added: list[str] = []
    for start, end, iri in reversed(spans):
        if iri is None or iri in listed:
            continue  # unresolved here (relative, an undeclared prefix): the engine says what it is
        if ours and iri is not None:
            added.append(iri)
            listed.add(iri)
            continue
        sparql = sparql[:start] + f"<{NO_GRAPH}>" + sparql[end:]
        if NO_GRAPH not in listed:
            added.append(NO_GRAPH)
            listed.add(NO_GRAPH)
    return sparql, [*named, *added]


_BOOLEAN_CAST = "<http://www.w3.org/2001/XMLSchema#boolean>"


def typed_booleans(sparql: str) -> str:
    """Virtuoso has no boolean values: ``BIND(EXISTS { ... } AS ?x)``, ``(true AS ?x)`` and the like
    come back as the integers 1 and 0. Cast to xsd:boolean, they come back as "1"^^xsd:boolean, which
    ``plain_terms`` reads as true. Only a whole EXISTS, NOT EXISTS, true or false before AS is cast;
    any other boolean expression still comes back as an integer from Virtuoso."""
    toks = [m for m in _TOKEN.finditer(sparql) if m.lastgroup != "skip"]
    edits: list[tuple[int, int]] = []
    for i, m in enumerate(toks):
        if m.lastgroup != "popen" or i + 1 >= len(toks):
            continue
        j = i + 1
        first = toks[j].group().upper() if toks[j].lastgroup == "word" else ""
        if first == "NOT" and j + 1 < len(toks) and toks[j + 1].group().upper() == "EXISTS":
            first, k = "EXISTS", j + 1
        else:
            k = j
        if first in ("TRUE", "FALSE"):
            end = k
        elif first == "EXISTS" and k + 1 < len(toks) and toks[k + 1].lastgroup == "open":
            depth, end = 0, None
            for n in range(k + 1, len(toks)):
                kind = toks[n].lastgroup
                depth += kind == "open"
                depth -= kind == "close"
                if depth == 0:
                    end = n
                    break
            if end is None:
                continue
        else:
            continue
        after = toks[end + 1] if end + 1 < len(toks) else None
        if after is not None and after.lastgroup == "word" and after.group().upper() == "AS":
            edits.append((toks[j].start(), toks[end].end()))
    for start, end in reversed(edits):
        sparql = sparql[:start] + _BOOLEAN_CAST + "(" + sparql[start:end] + ")" + sparql[end:]
    return sparql


def without_dataset_clauses(sparql: str) -> str:
    """The query with its ``FROM``/``FROM NAMED`` clauses blanked out (spaces: lines and columns of
    the rest stay where the user wrote them), for a request that names its dataset itself."""
    spans = []
    depth = 0
    pending: int | None = None  # start of a FROM clause waiting for its graph
    for m in _CLAUSE.finditer(sparql):
        kind, text = m.lastgroup, m.group()
        if kind == "open":
            depth += 1
        elif kind == "close":
            depth = max(0, depth - 1)
        elif depth == 0 and kind == "name" and text.upper() == "FROM":
            pending = m.start()
        elif pending is not None and kind == "name" and text.upper() == "NAMED":
            continue
        elif pending is not None and (kind == "iri" or (kind == "name" and ":" in text)):
            spans.append((pending, m.end()))
            pending = None
        elif kind != "skip":
            pending = None
    for start, end in reversed(spans):
        sparql = sparql[:start] + re.sub(r"[^\n]", " ", sparql[start:end]) + sparql[end:]
    return sparql


def prologue(prefixes: dict[str, str]) -> str:
    """PREFIX declarations for the configured prefixes (trusted names, IRIs rendered by pyoxigraph)."""
    return "".join(
        f"PREFIX {name}: {ox.NamedNode(ns)}\n"
        for name, ns in prefixes.items()
        if re.fullmatch(r"[A-Za-z][\w.-]*", name)
    )


def shift_position(message: str, lines: int) -> str:
    """An endpoint's "at LINE:COL" counted in the user's text, not with the PREFIX lines added."""
    if not lines:
        return message

    def move(m: re.Match) -> str:
        line = int(m.group(1))
        return f"{line - lines}:{m.group(2)}" if line > lines else m.group(0)

    def move_line(m: re.Match) -> str:
        line = int(m.group(1))
        return f"line {line - lines}" if line > lines else m.group(0)

    if re.search(r"\bline \d+", message):  # Virtuoso: "SPARQL compiler, line 4: syntax error at ..."
        return re.sub(r"\bline (\d+)", move_line, message, count=1)
    return re.sub(r"(?<![\d.])(\d+):(\d+)", move, message, count=1)


# -- substitutions -------------------------------------------------------------------------------
# Oxigraph binds ``substitutions`` natively; over the protocol the same effect is a VALUES block at
# the start of the query's WHERE group, holding terms rendered by pyoxigraph (never raw text).
_TOKEN = re.compile(
    r"""(?P<skip>'''.*?'''|\"\"\".*?\"\"\"|'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*"|<[^<>"{}|^`\\\s]*>|\#[^\n]*)
      |(?P<open>\{)|(?P<close>\})|(?P<popen>\()|(?P<pclose>\))
      |(?P<var>[?$]\w+)|(?P<word>[A-Za-z_][\w-]*)""",
    re.VERBOSE | re.DOTALL,
)


def _top_level_groups(sparql: str) -> Iterator[tuple[int, int, str | None]]:
    """(start, end, keyword before it) of each ``{ ... }`` group at the top level of the query."""
    depth = parens = 0
    start = 0
    last_word: str | None = None
    before: str | None = None
    for m in _TOKEN.finditer(sparql):
        kind = m.lastgroup
        if kind == "skip":
            continue
        if kind == "popen":
            parens += 1
        elif kind == "pclose":
            parens = max(0, parens - 1)
        elif kind == "open":
            if depth == 0 and parens == 0:
                start, before = m.start(), last_word
            depth += 1
        elif kind == "close":
            depth = max(0, depth - 1)
            if depth == 0 and parens == 0:
                yield start, m.end(), before
        elif kind == "word" and depth == 0 and parens == 0:
            last_word = m.group().upper()


def bind_values(sparql: str, substitutions: dict) -> str:
    """The query with each variable bound to its term, like Oxigraph's ``substitutions``.

    >>> bind_values("SELECT ?l WHERE { ?t <http://x/p> ?l }", {"t": ox.NamedNode("http://x/a")})
    'SELECT ?l WHERE { VALUES (?t) { (<http://x/a>) } <http://x/a> <http://x/p> ?l }'

    A decimal is bound by computing it: Virtuoso 7.2 fails a sorted query that projects a decimal
    constant with a fraction ("SR128: Numeric value out of range for <temporary space column>").

    >>> half = ox.Literal("0.5", datatype=XSD_DECIMAL)
    >>> bind_values("SELECT ?m WHERE { ?s ?p ?m }", {"m": half}).replace(str(XSD_DECIMAL), "xsd:decimal")
    'SELECT ?m WHERE { BIND(STRDT("0.5", xsd:decimal) AS ?m) ?s ?p "0.5"^^xsd:decimal }'
    """
    pairs: list[tuple[str, str]] = []  # (?variable, term), in the order given
    computed: dict[str, str] = {}  # decimals, by their lexical form: bound by a BIND, not the VALUES row
    for name, term in substitutions.items():
        if isinstance(name, ox.Variable):
            name = name.value
        if not re.fullmatch(r"\w+", name):
            raise ValueError(f"not a SPARQL variable name: {name!r}")
        if not isinstance(term, ox.NamedNode | ox.Literal | ox.BlankNode):
            raise TypeError(f"a substitution takes a pyoxigraph term, not {type(term).__name__}")
        if isinstance(term, ox.BlankNode):
            raise ValueError("a blank node cannot be sent to a remote store")
        pairs.append((f"?{name}", str(term)))
        if isinstance(term, ox.Literal) and term.datatype == XSD_DECIMAL:
            computed[f"?{name}"] = term.value
    groups = list(_top_level_groups(sparql))
    where = None
    if groups:
        first = groups[0]
        is_construct = re.search(r"\bCONSTRUCT\b", sparql[: first[0]], re.IGNORECASE) is not None
        if not is_construct:
            where = first
        elif first[2] != "WHERE" and len(groups) > 1:
            where = groups[1]  # CONSTRUCT { template } WHERE { pattern }
    if where is None:
        # DESCRIBE <x> or CONSTRUCT WHERE { ... }: a trailing VALUES clause joins the whole pattern.
        return sparql.rstrip() + "\n" + _values(pairs)
    listed = [(name, term) for name, term in pairs if name not in computed]
    terms = dict(pairs)
    block = " ".join(([_values(listed)] if listed else []) + [
        f"BIND(STRDT({ox.Literal(value)}, {XSD_DECIMAL}) AS {name})" for name, value in computed.items()])
    # The block binds the variables for the projection; inside the pattern each use is also
    # replaced by the term, so that filters in nested OPTIONALs see it as Oxigraph's substitution does.
    body = _replace_uses(sparql[where[0] + 1 : where[1] - 1], terms)
    return sparql[: where[0] + 1] + " " + block + body + sparql[where[1] - 1 :]


def _values(pairs: list[tuple[str, str]]) -> str:
    """A one-row VALUES block binding each ``?variable`` to its term."""
    return f"VALUES ({' '.join(name for name, _ in pairs)}) {{ ({' '.join(term for _, term in pairs)}) }}"


def _replace_uses(body: str, terms: dict[str, str]) -> str:
    """``body`` with each use of a variable in ``terms`` replaced, except where SPARQL needs a variable.

    Kept as variables: after ``AS``, in a sub-SELECT's projection, in ``GROUP BY``/``ORDER BY`` and
    in a ``VALUES`` variable list.
    """
    out, last = [], 0
    keep = False  # inside a projection, a VALUES variable list or a GROUP/ORDER BY clause
    previous = ""
    for m in _TOKEN.finditer(body):
        kind, text = m.lastgroup, m.group()
        if kind == "word":
            word = text.upper()
            if word in ("SELECT", "VALUES", "BY"):
                keep = True
            elif word in ("WHERE", "LIMIT", "OFFSET", "HAVING"):
                keep = False
            previous = word
        elif kind == "open" or kind == "close":
            keep = False
            previous = text
        elif kind == "var":
            name = "?" + text[1:]
            if name in terms and not keep and previous != "AS":
                out.append(body[last : m.start()] + terms[name])
                last = m.end()
            previous = "var"
    out.append(body[last:])
    return "".join(out)
