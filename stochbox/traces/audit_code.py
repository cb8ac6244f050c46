"""Static checks of agent-written Python for the audit: fixed seeds and network use.

Contract: both functions parse with :mod:`ast` and never execute the code.
Code that does not parse (a model's broken snippet) falls back to a
conservative regular expression, so a syntax error cannot hide a seed.

A call *fixes a seed* when it is

* ``<anything>.seed(arg)`` or a bare ``seed(arg)`` with a non-``None``
  argument (``random.seed``, ``np.random.seed``, ``torch.manual_seed`` ...):
  it replaces the harness seeding, whatever the argument;
* a generator constructor whose seed argument is a literal (or a module-level
  name bound to one): ``default_rng(42)``, ``RandomState(7)``,
  ``SeedSequence(1)``, ``Random(3)``, ``PCG64(5)``, ``MT19937(5)`` ...;
* any call with a literal ``random_state=`` (``scipy.stats.expon.rvs(random_state=0)``).
  Without a literal (``default_rng()``, ``default_rng(os.getpid())``) the
  stream still varies, so it is not flagged.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from functools import lru_cache

_RESEEDERS = frozenset({"seed", "manual_seed"})
_CONSTRUCTORS = frozenset(
    {"default_rng", "RandomState", "SeedSequence", "Random", "PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64", "Generator"}
)
NETWORK_MODULES = frozenset(
    {"socket", "urllib", "http", "requests", "httpx", "aiohttp", "ftplib", "smtplib", "telnetlib", "ssl", "websocket", "paramiko"}
)
_SEED_FALLBACK = re.compile(
    r"\b(?:seed|manual_seed)\s*\(\s*[^)\s]|\b(?:default_rng|RandomState|SeedSequence|Random|PCG64|MT19937)\s*\(\s*-?\d"
)
_NETWORK_FALLBACK = re.compile(r"^\s*(?:import|from)\s+(" + "|".join(sorted(NETWORK_MODULES)) + r")\b", re.M)


@dataclass(frozen=True)
class Finding:
    line: int
    text: str  # the call or import as written


def _callee(node: ast.Call) -> str | None:
    func = node.func
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    return None


def _module_literals(tree: ast.Module) -> set[str]:
    """Names assigned a constant at module level (``SEED = 42``)."""
    names: set[str] = set()
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Constant) and stmt.value.value is not None:
            names.update(t.id for t in stmt.targets if isinstance(t, ast.Name))
        elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.value, ast.Constant) and isinstance(stmt.target, ast.Name):
            names.add(stmt.target.id)
    return names


def _is_literal(node: ast.expr, literals: set[str]) -> bool:
    if isinstance(node, ast.Constant):
        return node.value is not None
    if isinstance(node, ast.UnaryOp) and isinstance(node.operand, ast.Constant):
        return True
    if isinstance(node, ast.Name):
        return node.id in literals
    if isinstance(node, ast.Call):  # Generator(PCG64(42)) and the like
        return any(_is_literal(a, literals) for a in node.args) and _callee(node) in _CONSTRUCTORS
    return False


def _seed_arg(node: ast.Call) -> ast.expr | None:
    if node.args:
        return node.args[0]
    for kw in node.keywords:
        if kw.arg in ("seed", "a", "x", "bit_generator", "entropy"):
            return kw.value
    return None


def _segment(code: str, node: ast.AST) -> str:
    return (ast.get_source_segment(code, node) or "").strip()[:120]


@lru_cache(maxsize=4096)  # agents rerun the same snippet across episodes; parse each text once
def _nodes(code: str) -> tuple[ast.Module, tuple[ast.AST, ...]] | None:
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return None
    return tree, tuple(ast.walk(tree))


def seed_fixing_calls(code: str) -> list[Finding]:
    """Calls in ``code`` that fix a random seed (see the module docstring)."""
    parsed = _nodes(code)
    if parsed is None:
        return [Finding(code[: m.start()].count("\n") + 1, m.group(0)) for m in _SEED_FALLBACK.finditer(code)]
    tree, nodes = parsed
    literals = _module_literals(tree)
    found: list[Finding] = []
    for node in nodes:
        if not isinstance(node, ast.Call):
            continue
        name = _callee(node)
        state = next((kw.value for kw in node.keywords if kw.arg == "random_state"), None)
        if state is not None and _is_literal(state, literals):  # scipy.stats ... .rvs(random_state=0)
            found.append(Finding(node.lineno, _segment(code, node)))
            continue
        arg = _seed_arg(node)
        if arg is None:
            continue
        if name in _RESEEDERS and not (isinstance(arg, ast.Constant) and arg.value is None):
            found.append(Finding(node.lineno, _segment(code, node)))
        elif name in _CONSTRUCTORS and _is_literal(arg, literals):
            # Generator(PCG64(42)) is one finding: report the outermost constructor only once
            if not any(f.line == node.lineno and _segment(code, node) in f.text for f in found):
                found.append(Finding(node.lineno, _segment(code, node)))
    found.sort(key=lambda f: f.line)
    return _dedupe_nested(found)


def _dedupe_nested(found: list[Finding]) -> list[Finding]:
    """Drop a finding whose text is part of another one on the same line (PCG64(1) inside Generator(PCG64(1)))."""
    return [f for f in found if not any(g is not f and g.line == f.line and f.text in g.text and g.text != f.text for g in found)]


def network_imports(code: str) -> list[Finding]:
    """Imports of networking modules in ``code``."""
    parsed = _nodes(code)
    if parsed is None:
        return [Finding(code[: m.start()].count("\n") + 1, m.group(0).strip()) for m in _NETWORK_FALLBACK.finditer(code)]
    found = []
    for node in parsed[1]:
        if isinstance(node, ast.Import):
            mods = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            mods = [node.module or ""]
        else:
            continue
        if any(m.split(".")[0] in NETWORK_MODULES for m in mods):
            found.append(Finding(node.lineno, _segment(code, node)))
    return found
