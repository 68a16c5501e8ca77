"""Every Python snippet of the README and the docs runs, and its numbers hold.

The ```python blocks of a page run in order in one namespace, as a reader
would paste them, in a temporary working folder, under this process's
backend. A top-level expression whose line ends in a number comment
(`loss(y_true, y_pred)   # 0.258723`) must evaluate to that number, to the
digits shown. Blocks that are not Python for this test are marked as
another language (```bash, ```text). A block whose first line is
`# Needs $KERAS_RECON_DATA` runs where that folder exists, as `make test`
arranges, and is skipped, saying so, elsewhere.
"""

import ast
import os
import pathlib
import re

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md"] + sorted((ROOT / "docs").rglob("*.md"))
FENCE = re.compile(r"^```python[^\n]*\n(.*?)^```", re.S | re.M)
NEEDS_DATA = "# Needs $KERAS_RECON_DATA"
NUMBER_COMMENT = re.compile(r"#\s*(-?\d+(?:\.\d+)?(?:e-?\d+)?)\s*$")


def snippets(page):
    return FENCE.findall(page.read_text(encoding="utf-8"))


def _expected(line):
    match = NUMBER_COMMENT.search(line)
    if match is None:
        return None
    digits = match.group(1)
    # Agreement to the digits shown: half a unit in the last place, relative
    # to the number's size (0.258723 -> 5e-7; 1.5 -> 0.05).
    mantissa = digits.split("e")[0].lstrip("-")
    decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
    exponent = int(digits.split("e")[1]) if "e" in digits else 0
    number = float(digits)
    # float32 results differ between backends in the last bits.
    return number, max(0.5 * 10.0 ** (exponent - decimals), 2e-6 * abs(number))


def run_snippet(code, namespace, where):
    tree = ast.parse(code, where)
    lines = code.splitlines()
    for statement in tree.body:
        module = ast.Module(body=[statement], type_ignores=[])
        if isinstance(statement, ast.Expr):
            value = eval(compile(ast.Expression(statement.value), where, "eval"), namespace)
            expected = _expected(lines[statement.end_lineno - 1])
            if expected is not None:
                number, tolerance = expected
                got = float(np.asarray(value))
                assert abs(got - number) <= tolerance, (
                    f"{where}, line {statement.lineno}: evaluates to {got!r}, the page says {number}"
                )
        else:
            exec(compile(module, where, "exec"), namespace)


def test_every_page_has_been_found():
    names = {p.relative_to(ROOT).as_posix() for p in PAGES}
    assert "README.md" in names and "docs/guides/losses.md" in names


def test_number_comments_are_read():
    number, tolerance = _expected("loss(a, b)   # 0.258723")
    assert number == 0.258723 and tolerance < 1e-6
    assert _expected("x   # 1.5")[1] == pytest.approx(0.05)
    assert _expected("x = f()  # shape (4,)") is None
    namespace = {}
    with pytest.raises(AssertionError, match="the page says 2.5"):
        run_snippet("1.0 + 1.0   # 2.5\n", namespace, "check")


@pytest.mark.parametrize("page", [p for p in PAGES if snippets(p)],
                         ids=lambda p: p.relative_to(ROOT).as_posix())
def test_snippets_run(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "__snippet__"}
    have_data = os.path.isdir(os.environ.get("KERAS_RECON_DATA", ""))
    skipped = []
    for i, code in enumerate(snippets(page), 1):
        if code.startswith(NEEDS_DATA) and not have_data:
            skipped.append(i)
            continue
        run_snippet(code, namespace, f"{page.relative_to(ROOT)} snippet {i}")
    if skipped:
        pytest.skip(f"the other snippets ran; snippets {skipped} need $KERAS_RECON_DATA, which is not set")
