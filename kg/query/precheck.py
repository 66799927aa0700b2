"""The pre-check every SPARQL text passes before any engine sees it.

Why it exists, given that the evaluators of the embedded store are kept off the network by the
operating system (``kg.safety.confine``): in front of a remote store it is the only guard we have (its
engine is not ours to confine), and in front of the embedded one it turns what the engine would
refuse late, or crash on, into a clear refusal with the reason.

Why it is written this way (each point answers a way the previous scan was beaten):

- **Linear.** One pass of one compiled pattern whose alternatives each consume what they match and
  never hand it back (possessive repeats); an unterminated string or IRI is a token of its own, so a
  failed match never makes the scan start again one character later. Cost grows with the length of
  the text, never with its square.
- **Bounded.** The text is refused past ``max_length`` characters, past ``max_depth`` nested
  brackets, and past ``64 * max_depth`` operators (an operator chain such as ``1+1+...`` or
  ``{} UNION {} ...`` nests in the parser and the engine as deeply as brackets do). Oxigraph's
  parser recurses: measured with pyoxigraph 0.5.13 on an 8 MiB thread stack, about 1,000 nested
  ``CONCAT(`` or 8,000 ``+`` crash the process; the defaults sit far below that and the evaluators
  run on 16 MiB stacks (``kg.query.evaluator``).
- **Faithful about keywords.** Oxigraph's parser needs no word break after a keyword:
  ``SERVICEe:x``, ``SERVICE<...>`` and ``trueSERVICE<...>`` all reach its ``SERVICE`` rule
  (``docs/engine-facts.md``). So the scan does not ask whether a token *is* the keyword: any run of
  name characters (a word or a prefixed name) that *contains* ``SERVICE`` is refused, and in an
  update any that contains ``LOAD``. Strings, IRIs, comments and variables cannot hide a keyword
  from the engine, and the scan reads them exactly as the grammar does (escapes included), so they
  cannot hide one from the scan either.
- **One reading of ``<``.** ``<`` opens an IRI, or is the operator "less than", or begins ``<<``: the
  engine's parser decides by where it stands, the scan by its tokens, and ``1<'>' SERVICE ... #'``
  reads as a comparison with a string to the one and as an IRI and a string to the other. The
  operator can stand only after a value inside parentheses, and ``<<`` only after another ``<``; an
  IRI in either place is read both ways: it is refused when its two readings differ in what the scan
  counts or skips (a quote, ``#``, a bracket), and what its other reading holds of operators counts.

>>> analyse("PREFIX ex: <http://ex/> SELECT * FROM ex:g WHERE { ?s ?p '# SERVICE' }", {}).form
'SELECT'
>>> analyse("SELECT * { SERVICEex:x { ?s ?p ?o } }", {})  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
kg.query.precheck.Refused: SERVICE (federated query) is not allowed here: ... (found in 'SERVICEex:x'; ...)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urljoin


class PrecheckError(Exception):
    """The text may not be evaluated; the message says why, for the person who wrote it."""


class Malformed(PrecheckError):
    """The text is not SPARQL the scan can accept (bad escape, unterminated string, wrong kind)."""


class Refused(PrecheckError):
    """The text asks for something this service never does (SERVICE, LOAD)."""


class TooLarge(PrecheckError):
    """The text is longer, deeper or has more operators than the configured bounds allow."""


@dataclass(frozen=True)
class Bounds:
    """How large a text the pre-check lets through."""

    max_length: int = 100_000
    max_depth: int = 64

    @property
    def max_operators(self) -> int:
        return 64 * self.max_depth


# -- the tokens ---------------------------------------------------------------------------------------

_NAME = r"[\w\u00B7\u0300-\u036F\u203F-\u2040.\-:%]"
_NAME_ESC = r"\\[_~.\-!$&'()*+,;=/?#@%]"
_IRI_CHAR = r"""[^\x00-\x20<>"{}|^`\\]|\\u[0-9A-Fa-f]{4}|\\U[0-9A-Fa-f]{8}"""
_TOKEN = re.compile(
    rf"""
    (?P<ws>\s++)
  | (?P<comment>\#[^\r\n]*+)
  | (?P<iri><(?:{_IRI_CHAR})*+>)
  | (?P<long>'''(?:[^'\\]|\\.|'(?!''))*+'''|\"\"\"(?:[^"\\]|\\.|"(?!""))*+\"\"\")
  | (?P<open_long>'''|\"\"\")
  | (?P<short>'(?:[^'\\\n\r]|\\.)*+'|"(?:[^"\\\n\r]|\\.)*+")
  | (?P<open_short>['"])
  | (?P<var>[?$][\w\u00B7\u0300-\u036F\u203F-\u2040]++)
  | (?P<lang>@[A-Za-z]++(?:-[A-Za-z0-9]++)*+)
  | (?P<bnode>_:[\w\u00B7\u0300-\u036F\u203F-\u2040.\-]++)
  | (?P<number>[0-9]++(?:\.[0-9]++)?+(?:[eE][+-]?+[0-9]++)?+|\.[0-9]++(?:[eE][+-]?+[0-9]++)?+)
  | (?P<name>(?:[^\W\d]|:)(?:{_NAME}|{_NAME_ESC})*+)
  | (?P<op>\|\||&&|!=|<=|>=|\^\^|[!=<>+\-*/|^])
  | (?P<open>[({{\[])
  | (?P<close>[)}}\]])
  | (?P<other>.)
    """,
    re.X | re.S,
)
#: The pattern's group names that stand for one kind of token.
_KINDS = {"long": "string", "short": "string", "open_long": "unterminated", "open_short": "unterminated"}
_OPERATOR_WORDS = frozenset({"UNION", "OPTIONAL", "MINUS", "FILTER", "BIND", "GRAPH", "VALUES", "EXISTS"})
#: Tokens a value ends with: after one, inside parentheses, ``<`` may be the operator.
_VALUE_ENDS = frozenset({"var", "string", "number", "name", "iri", "lang", "bnode", "close"})
#: What an IRI may hold that, read as code, opens a string or a comment or a bracket.
_TWO_READINGS = re.compile(r"['#()\[\]]")
#: What an IRI may hold that, read as code, is an operator.
_OPERATOR_CHARS = re.compile(r"[+\-*/=!&|]")
_SERVICE = re.compile(r"service", re.I)
_LOAD = re.compile(r"load", re.I)
_UCHAR = re.compile(r"\\u([0-9A-Fa-f]{4})|\\U([0-9A-Fa-f]{8})")
_LOCAL_ESC = re.compile(r"\\(.)")

QUERY_FORMS = ("SELECT", "ASK", "CONSTRUCT", "DESCRIBE")
UPDATE_WORDS = frozenset({"INSERT", "DELETE", "LOAD", "CLEAR", "CREATE", "DROP", "COPY", "MOVE", "ADD", "WITH"})


def tokens(text: str) -> list[tuple[str, str]]:
    """Significant tokens (kind, text): whitespace and comments dropped, strings and IRIs whole.

    >>> [t for _, t in tokens('SELECT ?s # SERVICE\\n { ?s <x#y> "a\\\\"b" }')]
    ['SELECT', '?s', '{', '?s', '<x#y>', '"a\\\\"b"', '}']
    """
    return [(_KINDS.get(m.lastgroup, m.lastgroup), m.group())
            for m in _TOKEN.finditer(text) if m.lastgroup not in ("ws", "comment")]


def reaches_out(text: str, prefixes: dict[str, str] | None = None, *, update: bool = False) -> bool:
    """Whether ``text`` must not be evaluated where nothing confines the engine (``kg.store.remote_text``
    parses texts that way): ``analyse`` refuses it, for SERVICE (or LOAD), for a ``<`` it cannot read
    one way, for its size or depth, or as malformed.

    >>> reaches_out("PREFIX e: <http://10.0.0.5/> SELECT * { SERVICEe:x { ?s ?p ?o } }")
    True
    >>> reaches_out("SELECT * { ?s ?p 'SERVICE' } # SERVICE")
    False
    """
    try:
        analyse(text, prefixes or {}, update=update)
    except PrecheckError:
        return True
    return False


@dataclass(frozen=True)
class Analysis:
    """What the scan learnt about a text."""

    form: str | None  #: SELECT | ASK | CONSTRUCT | DESCRIBE | UPDATE | None (let the parser say)
    from_graphs: tuple[str, ...] = ()
    from_named: tuple[str, ...] = ()

    @property
    def has_dataset(self) -> bool:
        return bool(self.from_graphs or self.from_named)


def analyse(text: str, prefixes: dict[str, str], *, update: bool = False, bounds: Bounds | None = None) -> Analysis:
    """Scan a query (or an update) and refuse what may not run.

    Raises ``TooLarge`` past the bounds, ``Refused`` for SERVICE (and LOAD in an update), ``Malformed``
    for what cannot be a query (or an update) at all.
    """
    bounds = bounds or Bounds()
    if len(text) > bounds.max_length:
        raise TooLarge(f"the {'update' if update else 'query'} is {len(text):,} characters long; "
                       f"at most {bounds.max_length:,} are accepted")
    items = tuple(sorted(prefixes.items()))
    # Short texts (the usual queries, asked again and again) are scanned once; long ones every time.
    scan = _scan_cached if len(text) <= 8192 else _scan
    analysis = scan(text, items, update, bounds.max_depth, bounds.max_operators)
    if update and analysis.form in QUERY_FORMS:
        raise Malformed(f"this is a {analysis.form} query, not an update: send it as 'query', not 'update'")
    if not update and analysis.form == "UPDATE":
        raise Malformed("this is a SPARQL Update, not a query: send it with POST as 'update' "
                        "(form field) or with Content-Type application/sparql-update")
    return analysis


def _where(text: str, offset: int) -> str:
    """``line:column`` (from 1) of an offset, and the text from there, as Oxigraph's messages give them."""
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return f"{line}:{column}: {text[offset:offset + 40]!r}"


def _scan(text: str, prefix_items: tuple[tuple[str, str], ...], update: bool, max_depth: int,
          max_operators: int) -> Analysis:
    prefixes = dict(prefix_items)
    operators = 0
    # The open brackets, innermost last; "(" where an expression may stand, "t" for a triple term's "<<(".
    opened: list[str] = []
    toks: list[tuple[str, str]] = []
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup
        if kind in ("ws", "comment"):
            continue
        kind = _KINDS.get(kind, kind)
        value = match.group()
        if kind == "open":
            term = value == "(" and toks[-2:] == [("op", "<"), ("op", "<")]
            opened.append("t" if term else value)
            if len(opened) > max_depth:
                raise TooLarge(f"brackets are nested more than {max_depth} deep (the limit, KG_MAX_QUERY_DEPTH)")
        elif kind == "close":
            if opened:
                opened.pop()
        elif kind == "iri" and toks and (toks[-1] == ("op", "<")
                                         or toks[-1][0] in _VALUE_ENDS and opened[-1:] == ["("]):
            # The engine may read this "<" as an operator (after a value, inside parentheses) or as the
            # second of "<<": both readings must agree on what the scan counts and skips.
            if _TWO_READINGS.search(value):
                raise Malformed(f"'<' reads two ways at {_where(text, match.start())}: as an IRI, or as "
                                "'less than' (or '<<') followed by code; put a space after '<' when it "
                                "compares, or write the IRI with %-escapes for ' # ( ) [ ]")
            operators += len(_OPERATOR_CHARS.findall(value))
            if operators > max_operators:
                raise TooLarge(f"more than {max_operators} operators (64 per level of KG_MAX_QUERY_DEPTH); "
                               "write long alternatives with IN (...) or VALUES")
        elif kind == "op" and value != "^^" or kind == "name" and value.upper() in _OPERATOR_WORDS:
            operators += 1
            if operators > max_operators:
                raise TooLarge(f"more than {max_operators} operators (64 per level of KG_MAX_QUERY_DEPTH); "
                               "write long alternatives with IN (...) or VALUES")
        elif kind == "unterminated":
            raise Malformed(f"a string is not closed at {_where(text, match.start())}")
        elif kind == "name":
            # Any name that contains the keyword, wherever: the engine matches keywords without a
            # word break, so 'SERVICEx:', 'trueSERVICE' and 'ex:a.SERVICE' are all suspect.
            if _SERVICE.search(value):
                raise Refused(f"SERVICE (federated query) is not allowed here: this endpoint never contacts "
                              f"other services (found in {value[:60]!r}; a name that contains the word SERVICE "
                              "is refused too, since the engine would read it as the keyword)")
            if update and _LOAD.search(value):
                raise Refused(f"LOAD is not allowed: this endpoint never fetches documents; send the data itself "
                              f"with INSERT DATA (found in {value[:60]!r}; a name that contains the word LOAD is "
                              "refused in an update too, since the engine would read it as the keyword)")
        elif kind == "other" and value == "\\":
            # Oxigraph reads \u escapes inside strings and IRIs only; anywhere else they are errors.
            raise Malformed(f"\\u escapes are only accepted inside strings and IRIs, not at "
                            f"{_where(text, match.start())}")
        toks.append((kind, value))
    return _dataset(toks, prefixes, update)


def _dataset(toks: list[tuple[str, str]], prefixes: dict[str, str], update: bool) -> Analysis:
    """The form, and the FROM and FROM NAMED graphs resolved against BASE and the prefixes. An update
    names no dataset this way (its USING and WITH are the store's to read), so what cannot be resolved
    there is left to the engine; in a query it is refused."""
    base: str | None = None
    form: str | None = None
    from_graphs: list[str] = []
    from_named: list[str] = []

    def resolve(kind: str, value: str) -> str | None:
        if kind == "iri":
            iri = _UCHAR.sub(lambda m: chr(int(m.group(1) or m.group(2), 16)), value[1:-1])
            if ":" not in iri.split("/", 1)[0] or iri.startswith(("/", "#")):
                if base is None:
                    if not update:
                        raise Malformed(f"<{iri}> is a relative IRI and the query has no BASE")
                    return None
                iri = urljoin(base, iri)
            return iri
        if kind == "name" and ":" in value:
            prefix, _, local = value.partition(":")
            if prefix not in prefixes:
                if not update:
                    raise Malformed(f"{value} uses the undeclared prefix '{prefix}:'")
                return None
            return prefixes[prefix] + _LOCAL_ESC.sub(r"\1", local)
        return None

    i = 0
    while i < len(toks):
        kind, value = toks[i]
        if kind == "name" and ":" not in value:
            word = value.upper()
            following = toks[i + 1] if i + 1 < len(toks) else ("", "")
            if word == "BASE" and following[0] == "iri":
                base = resolve("iri", following[1]) or base
                i += 1
            elif word == "PREFIX" and following[0] == "name" and i + 2 < len(toks) and toks[i + 2][0] == "iri":
                iri = resolve(*toks[i + 2])
                if iri is not None:
                    prefixes[following[1].split(":", 1)[0]] = iri
                i += 2
            elif word == "FROM" and following[0]:
                named = following[0] == "name" and following[1].upper() == "NAMED"
                j = i + 2 if named else i + 1
                if j < len(toks):
                    iri = resolve(*toks[j])
                    if iri is not None:
                        (from_named if named else from_graphs).append(iri)
                    i = j
            elif form is None and word in QUERY_FORMS:
                form = word
            elif form is None and word in UPDATE_WORDS:
                form = "UPDATE"
        i += 1
    return Analysis(form, tuple(from_graphs), tuple(from_named))


_scan_cached = lru_cache(maxsize=512)(_scan)


def without_trailing_semicolon(text: str) -> str:
    """An update's text without a final ``;`` (comments after it kept out too), so that more
    operations can follow it: ``op ; ;`` is not SPARQL.

    >>> without_trailing_semicolon("INSERT DATA { <a:a> <a:b> <a:c> } ; # done")
    'INSERT DATA { <a:a> <a:b> <a:c> } '
    """
    last = None
    for match in _TOKEN.finditer(text):
        if match.lastgroup not in ("ws", "comment"):
            last = match
    if last is not None and last.group() == ";":
        return text[: last.start()]
    return text
