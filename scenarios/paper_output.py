"""Read what an UnpredictaBench ground-truth program prints, the way the paper reads it.

The paper's programs ignore ``N``: one run prints one Python list of (usually
10,000) samples. The paper takes the *last* list printed on stdout
(``scripts/generate_ground_truth_values_*.py``): a balanced ``[...]`` span that
``ast.literal_eval`` accepts, after unwrapping numpy scalar reprs such as
``np.float64(1.5)``. :func:`extract_printed_list` does the same.

:func:`to_samples` turns those values into stochbox samples by one of a few
named *encodings* (a JSON-able dict ``{"kind": ...}``):

* ``values`` -- as printed (numbers, labels, vectors, orderings);
* ``label`` -- each value as a label string (numbers as their shortest text);
* ``number`` -- each value as a float (the paper's ``float(v)``);
* ``lines`` -- a string printed one item per line becomes the list of its
  stripped, non-blank lines (the paper's real-world shuffling tasks);
* ``mapping`` -- a string is matched to one of ``keys`` after removing spaces
  and tabs and lowercasing, as the paper's notebook matches it; ``empty``
  (optional) names the key an empty output stands for. Values that match no
  key are dropped, as the paper drops them.

Contract: this module uses the standard library only and no other stochbox
module, because its source is embedded verbatim in the programs stochbox runs
inside the sandbox (:func:`adapter_program`); the importer's probe and the
scenario's ground truth therefore decode the output with the same code.
"""

from __future__ import annotations

import ast
import inspect
import json
import re
from typing import Any

_NUMPY_SCALAR = re.compile(r"\b(?:np|numpy)\.[A-Za-z_][A-Za-z0-9_]*\(([^()]*)\)")


def unwrap_numpy_scalars(text: str) -> str:
    """``[np.float64(1.5), np.int64(2)]`` -> ``[1.5, 2]`` (numpy >= 2 prints scalars so)."""
    for _ in range(20):
        new = _NUMPY_SCALAR.sub(r"\1", text)
        if new == text:
            return text
        text = new
    return text


def _quoted_json(text: str) -> Any:
    """A Python list repr read as JSON, where that is exact; ``ValueError`` otherwise.

    ``ast.literal_eval`` takes ~0.5 s for 10,000 short lists; this takes ~10 ms.
    Exact only without ``"`` and ``\\`` in the text: then every string is
    ``'...'`` with no quote inside, and ``True``/``None``/``nan`` still fail JSON.
    """
    if '"' in text or "\\" in text:
        raise ValueError("needs the Python parser")
    return json.loads(re.sub(r"'([^']*)'", r'"\1"', text))


def _list_spans(text: str) -> list[tuple[int, int]]:
    spans, stack, quote, escaped = [], [], None, False
    for i, ch in enumerate(text):
        if quote is not None:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == quote:
                quote = None
            continue
        if ch in "'\"":
            quote = ch
        elif ch == "[":
            stack.append(i)
        elif ch == "]" and stack:
            start = stack.pop()
            if not stack:
                spans.append((start, i + 1))
    return spans


def extract_printed_list(stdout: str) -> list[Any]:
    """The last list printed on ``stdout``; raises ``ValueError`` saying why there is none.

    The last non-blank line is tried first (JSON, then a Python literal); when
    it is not a list, the last balanced, outermost ``[...]`` span of the whole
    output that parses as a list is taken.
    """
    lines = [line for line in stdout.splitlines() if line.strip()]
    if not lines:
        raise ValueError("printed nothing")
    last = lines[-1].strip()
    for parse in (json.loads, _quoted_json, ast.literal_eval):
        try:
            value = parse(last if parse is json.loads else unwrap_numpy_scalars(last))
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            continue
        if isinstance(value, list):
            return value
    for start, end in reversed(_list_spans(stdout)):
        try:
            value = ast.literal_eval(unwrap_numpy_scalars(stdout[start:end]))
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            continue
        if isinstance(value, list):
            return value
    shown = last if len(last) <= 60 else last[:57] + "..."
    raise ValueError(f"printed no list Python can read (last stdout line {shown!r})")


def _label_text(v: Any) -> str:
    if isinstance(v, float) and v == int(v) and abs(v) < 2**53:
        return str(int(v))
    return str(v).strip()


def normalise_key(text: str) -> str:
    """The paper's matching key: newlines unified, spaces and tabs removed, lowercased."""
    text = str(text).replace("\r\n", "\n").replace("\r", "\n")
    return re.sub(r"[ \t\f\v]+", "", text).lower()


def to_samples(values: list[Any], encoding: dict[str, Any]) -> list[Any]:
    """``values`` (as printed) encoded as stochbox samples; see the module docstring."""
    kind = encoding.get("kind", "values")
    if kind == "values":
        return list(values)
    if kind == "label":
        return [_label_text(v) for v in values]
    if kind == "number":
        return [float(v) for v in values]
    if kind == "lines":
        return [[part.strip() for part in str(v).splitlines() if part.strip()] for v in values]
    if kind == "mapping":
        keys = {normalise_key(k): k for k in encoding["keys"]}
        empty = encoding.get("empty")
        out = []
        for v in values:
            key = normalise_key(v)
            if key in keys:
                out.append(keys[key])
            elif key == "" and empty is not None:
                out.append(empty)
        return out
    raise ValueError(f"unknown encoding {kind!r}")


# ---------------------------------------------------------------- the program stochbox runs

_RUNNER = '''
import io as _sb_io, json as _sb_json, sys as _sb_sys
def _sb_run(program, n, k, encoding):
    out, saved = _sb_io.StringIO(), _sb_sys.stdout
    _sb_sys.stdout = out
    try:
        exec(compile(program, "<ground_truth>", "exec"), {"__name__": "__main__", "__builtins__": __builtins__})
    except SystemExit as exc:
        if exc.code not in (None, 0):
            raise
    finally:
        _sb_sys.stdout = saved
    samples = to_samples(extract_printed_list(out.getvalue()), encoding)
    if n > len(samples):
        raise SystemExit(f"stochbox-contract: this program gives {len(samples)} usable samples per run; N={n} is more (fixed_batch={k})")
    print(_sb_json.dumps(samples[:n]))
'''

_HELPERS = (unwrap_numpy_scalars, _quoted_json, _list_spans, extract_printed_list, _label_text, normalise_key, to_samples)


def _embedded_source() -> str:
    head = "import ast, json, re\nfrom typing import Any\n"
    pattern = f"_NUMPY_SCALAR = re.compile({_NUMPY_SCALAR.pattern!r})\n"
    return head + pattern + "\n".join(inspect.getsource(f) for f in _HELPERS)


def _literal(code: str) -> str:
    if "'''" not in code and not code.rstrip("\n").endswith("\\"):
        return "r'''\n" + code + "'''"
    return repr(code)


def adapter_program(code: str, k: int, encoding: dict[str, Any]) -> str:
    """A batch-contract program (prints the first ``N`` samples as JSON) around a paper program.

    ``code`` is kept as a string literal (run with fresh globals, so its own
    ``N`` or ``exit()`` cannot break the wrapper); ``k`` is how many samples
    one of its runs gives.
    """
    return (
        f"# stochbox: UnpredictaBench program (prints a list of {k} samples per run, ignores N);\n"
        "# decoded as the paper does, encoded by the fixed encoding below, first N printed.\n"
        + _embedded_source()
        + _RUNNER
        + f"_sb_program = {_literal(code)}\n"
        + f"_sb_run(_sb_program, N, {k}, {json.dumps(encoding, sort_keys=True)})\n"
    )


#: Code of one probe execution: prints ``{"values": [...]}`` (the printed list, undecoded) or ``{"error": ...}``.
PROBE_RUNNER = '''
import io as _sb_io, json as _sb_json, sys as _sb_sys
def _sb_probe(program):
    out, saved = _sb_io.StringIO(), _sb_sys.stdout
    _sb_sys.stdout = out
    try:
        exec(compile(program, "<ground_truth>", "exec"), {"__name__": "__main__", "__builtins__": __builtins__})
    except SystemExit as exc:
        if exc.code not in (None, 0):
            raise
    finally:
        _sb_sys.stdout = saved
    try:
        values = extract_printed_list(out.getvalue())
    except ValueError as exc:
        print(_sb_json.dumps({"error": str(exc)}))
        return
    try:
        print(_sb_json.dumps({"values": values}, allow_nan=False))
    except (TypeError, ValueError) as exc:
        print(_sb_json.dumps({"error": f"printed values that are not JSON scalars or lists: {exc}"}))
_sb_probe(__stochbox_program__)
'''


def probe_program() -> str:
    """The code of a probe execution; the program goes in the global ``__stochbox_program__``."""
    return _embedded_source() + PROBE_RUNNER
