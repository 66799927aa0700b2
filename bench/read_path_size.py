"""The read path's size, at the revision issue 12 was filed on and now, counted the same way.

Why: the issue asks for the line count of the read path before and after. A count is only worth
quoting when anyone can run it again and the two sides hold the same parts, so the parts are named
here, module by module, for both trees. The filing kept its token scan inside ``kg/sparql.py``; it
is counted apart (between its two section comments), beside today's ``kg/query/precheck.py``.
Modules that exist only now are on the read path because the issue asked for them (one deadline per
request) or were split out of a module counted at filing (the cache key).

Code lines leave out blank lines, comments and docstrings. Run ``python -m bench.read_path_size``
(it reads the filing's files with ``git show``, so it needs the repository's history).
"""

from __future__ import annotations

import argparse
import ast
import io
import subprocess
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FILING = "cdea206"

#: (part, files at filing, files now). A file at filing may be cut to a section: (path, start, end),
#: the lines from the one starting with ``start`` up to the one starting with ``end``.
PARTS: list[tuple[str, list, list[str]]] = [
    ("pre-check (the scan in front of the engine)",
     [("kg/sparql.py", "# -- the token scan", "# -- formats")],
     ["kg/query/precheck.py"]),
    ("user SPARQL: checks, dataset, limits, errors",
     [("kg/sparql.py", "", "# -- the token scan"), ("kg/sparql.py", "# -- formats", None)],
     ["kg/query/sparql.py"]),
    ("evaluator processes, their routing and jobs",
     ["kg/query_pool.py", "kg/query_workers.py", "kg/memory_engine.py"],
     ["kg/query/pool.py", "kg/query/evaluator.py", "kg/query/evaluator_process.py", "kg/query/evaluation.py"]),
    ("trusted queries under the time limit",
     ["kg/limits.py"],
     ["kg/query/trusted.py", "kg/query/deadline.py"]),
    ("the cache of answers",
     ["kg/cache.py", "service/response_cache.py"],
     ["kg/query/cache.py", "service/response_cache.py", "service/cache_key.py"]),
]


def source(path: str, revision: str | None) -> str:
    if revision is None:
        return (ROOT / path).read_text(encoding="utf-8")
    return subprocess.run(["git", "show", f"{revision}:{path}"], cwd=ROOT, capture_output=True, text=True,
                          check=True).stdout


def section(text: str, start: str, end: str | None) -> str:
    lines = text.splitlines(keepends=True)
    first = 0 if not start else next(i for i, line in enumerate(lines) if line.startswith(start))
    last = len(lines) if end is None else next(i for i, line in enumerate(lines) if line.startswith(end))
    return "".join(lines[first:last])


def code_lines(text: str) -> int:
    """Lines holding code: not blank, not only a comment, not part of a docstring. ``text`` may be a
    section of a module; its docstrings are those of the whole module that it contains."""
    docstrings: set[int] = set()
    for node in ast.walk(ast.parse(text)):
        body = getattr(node, "body", None)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and body:
            first = body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) \
                    and isinstance(first.value.value, str):
                docstrings.update(range(first.lineno, (first.end_lineno or first.lineno) + 1))
    skip = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER}
    lines: set[int] = set()
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        if token.type not in skip:
            lines.update(n for n in range(token.start[0], token.end[0] + 1) if n not in docstrings)
    return len(lines)


def measure(files: list, revision: str | None) -> tuple[int, int]:
    total = code = 0
    for item in files:
        text = source(item, revision) if isinstance(item, str) else section(source(item[0], revision), *item[1:])
        total += len(text.splitlines())
        code += code_lines(text)
    return total, code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--filing", default=FILING, help="the revision to compare with (default: %(default)s)")
    args = parser.parse_args()
    print(f"| part | lines at {args.filing} | now | code lines at {args.filing} | now |")
    print("|---|---|---|---|---|")
    sums = [0, 0, 0, 0]
    for name, before, after in PARTS:
        (lines_then, code_then), (lines_now, code_now) = measure(before, args.filing), measure(after, None)
        for i, value in enumerate((lines_then, lines_now, code_then, code_now)):
            sums[i] += value
        print(f"| {name} | {lines_then:,} | {lines_now:,} | {code_then:,} | {code_now:,} |")
    print(f"| **all** | {sums[0]:,} | {sums[1]:,} | {sums[2]:,} | {sums[3]:,} |")


if __name__ == "__main__":
    main()
