"""Domain tools declared by a pack (``tools:`` in ``pack.yaml``).

A declaration names a ``module`` (a ``.py`` file in the pack, e.g.
``queue_tool.py`` or ``tools/queue_tool.py``) and a ``function`` in it. The
module is **never imported by the host**: stochbox reads its source and the
function's signature with :mod:`ast`, builds a pydantic argument model from
the annotations, and at call time sends the module source, the function name
and the validated JSON arguments to the sandbox, where the function runs and
its return value is printed as JSON.

What a pack tool function may use (the sandbox has it): the standard library,
numpy, scipy; ``random``/``numpy.random`` are seeded per call by the harness.
Parameters must be annotated with ``int``, ``float``, ``str``, ``bool``,
``list[...]`` of those, ``Literal[...]`` or ``X | None``; defaults must be
literals. Parameter descriptions come from an ``Args:`` section of the
docstring (``name: text`` lines). The return value must be JSON-serialisable.
The module is self-contained (it cannot import sibling files of the pack).
"""

from __future__ import annotations

import ast
import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, Optional

from pydantic import BaseModel, Field, create_model

from stochbox.agents.tools import Tool, ToolRuntime, format_exec_result
from stochbox.errors import ScenarioError
from stochbox.scenarios.loader import PACK_FILE, load_manifest
from stochbox.scenarios.models import ToolDeclaration

_HARNESS = """\
import json as _stochbox_json
_stochbox_ns = {"__name__": "stochbox_pack_tool"}
exec(compile(__stochbox_tool_source__, __stochbox_tool_file__, "exec"), _stochbox_ns)
_stochbox_result = _stochbox_ns[__stochbox_tool_function__](**__stochbox_tool_args__)
try:
    print(_stochbox_json.dumps(_stochbox_result))
except (TypeError, ValueError):
    print(repr(_stochbox_result))
"""

_SCALARS: dict[str, type] = {"int": int, "float": float, "str": str, "bool": bool}


class _SignatureError(ValueError):
    pass


def _annotation(node: ast.expr) -> Any:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return _annotation(ast.parse(node.value, mode="eval").body)
    if isinstance(node, ast.Name) and node.id in _SCALARS:
        return _SCALARS[node.id]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        sides = [node.left, node.right]
        nones = [s for s in sides if isinstance(s, ast.Constant) and s.value is None]
        if len(nones) == 1:
            other = next(s for s in sides if s not in nones)
            return Optional[_annotation(other)]
    if isinstance(node, ast.Subscript):
        base = node.value.attr if isinstance(node.value, ast.Attribute) else getattr(node.value, "id", None)
        if base in ("list", "List"):
            return list[_annotation(node.slice)]  # type: ignore[misc]
        if base == "Optional":
            return Optional[_annotation(node.slice)]
        if base == "Literal":
            elts = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
            try:
                values = tuple(ast.literal_eval(e) for e in elts)
            except ValueError:
                raise _SignatureError("Literal[...] values must be literals") from None
            return Literal[values]  # type: ignore[valid-type]
    raise _SignatureError(
        f"unsupported annotation '{ast.unparse(node)}' (use int, float, str, bool, list[...], Literal[...], X | None)"
    )


def _arg_docs(doc: str | None) -> dict[str, str]:
    """``name: text`` lines of an ``Args:`` docstring section."""
    out: dict[str, str] = {}
    if not doc:
        return out
    in_args = False
    for line in doc.splitlines():
        stripped = line.strip()
        if re.fullmatch(r"(Args|Arguments|Parameters):", stripped):
            in_args = True
            continue
        if in_args:
            m = re.match(r"(\w+)\s*(?:\([^)]*\))?\s*:\s*(.+)", stripped)
            if m:
                out[m.group(1)] = m.group(2)
            elif not stripped or re.fullmatch(r"\w+:", stripped):
                in_args = False
    return out


def signature_model(source: str, function: str, *, model_name: str) -> tuple[type[BaseModel], str | None]:
    """Pydantic argument model of ``function`` in ``source`` (read with ast, not executed) and its docstring."""
    tree = ast.parse(source)
    fn = next(
        (n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == function),
        None,
    )
    if fn is None:
        raise _SignatureError(f"no top-level function '{function}'")
    if isinstance(fn, ast.AsyncFunctionDef):
        raise _SignatureError(f"'{function}' must be a plain (not async) function")
    a = fn.args
    if a.vararg or a.kwarg or a.posonlyargs:
        raise _SignatureError("*args, **kwargs and positional-only parameters are not supported")
    doc = ast.get_docstring(fn)
    docs = _arg_docs(doc)
    params = a.args + a.kwonlyargs
    defaults: list[ast.expr | None] = [None] * (len(a.args) - len(a.defaults)) + list(a.defaults) + list(a.kw_defaults)
    fields: dict[str, Any] = {}
    for param, default in zip(params, defaults):
        if param.annotation is None:
            raise _SignatureError(f"parameter '{param.arg}' needs a type annotation")
        typ = _annotation(param.annotation)
        if default is None:
            value: Any = ...
        else:
            try:
                value = ast.literal_eval(default)
            except ValueError:
                raise _SignatureError(f"default of '{param.arg}' must be a literal") from None
        fields[param.arg] = (typ, Field(value, description=docs.get(param.arg)))
    return create_model(model_name, **fields), doc  # type: ignore[call-overload]


class PackTool(Tool):
    """A pack's domain tool; runs its function inside the sandbox."""

    def __init__(self, decl: ToolDeclaration, module_file: Path, source: str, args_schema: type[BaseModel]) -> None:
        self.name = decl.name
        self.description = decl.description
        self.args_schema = args_schema
        self.function = decl.function
        self.module_file = module_file
        self.source = source

    def _globals(self, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "__stochbox_tool_source__": self.source,
            "__stochbox_tool_file__": self.module_file.name,
            "__stochbox_tool_function__": self.function,
            "__stochbox_tool_args__": args,
        }

    async def arun(self, args: BaseModel, runtime: ToolRuntime) -> str:
        res = await runtime.execute(_HARNESS, tool=self.name, globals_=self._globals(args.model_dump(mode="json")))
        return format_exec_result(res)

    def code_signature(self) -> str:
        fields = self.args_schema.model_fields
        params = ", ".join(
            name if f.is_required() else f"{name}={f.default!r}" for name, f in fields.items()
        )
        return f"- {self.name}({params}): {self.description}"

    def code_prelude(self) -> tuple[str, dict[str, Any]]:
        src_var = f"__stochbox_src_{self.name}__"
        code = (
            f"_stochbox_ns_{self.name} = {{'__name__': 'stochbox_pack_tool'}}\n"
            f"exec(compile({src_var}, {self.module_file.name!r}, 'exec'), _stochbox_ns_{self.name})\n"
            f"{self.name} = _stochbox_ns_{self.name}[{self.function!r}]\n"
        )
        return code, {src_var: self.source}


def _module_path(folder: Path, module: str) -> Path:
    rel = module if module.endswith(".py") else module.replace(".", "/") + ".py"
    return (folder / rel).resolve()


def load_pack_tools(folder: Path) -> dict[str, Tool]:
    """The tools a pack folder declares; raises :class:`ScenarioError` naming ``pack.yaml`` and the tool."""
    folder = Path(folder).resolve()
    manifest_file = folder / PACK_FILE
    return dict(_load(folder, manifest_file.stat().st_mtime_ns))


@lru_cache(maxsize=64)
def _load(folder: Path, _mtime: int) -> tuple[tuple[str, Tool], ...]:
    manifest = load_manifest(folder)
    out: list[tuple[str, Tool]] = []
    for i, decl in enumerate(manifest.tools):
        where = dict(file=str(folder / PACK_FILE), field=f"tools.{i}")
        path = _module_path(folder, decl.module)
        if not path.is_relative_to(folder):
            raise ScenarioError(f"module '{decl.module}' must be inside the pack folder", **where)
        try:
            source = path.read_text(encoding="utf-8")
        except OSError:
            raise ScenarioError(f"module file '{decl.module}' not found in the pack", **where) from None
        try:
            model, _ = signature_model(source, decl.function, model_name=f"{decl.name}_args")
        except (_SignatureError, SyntaxError) as exc:
            raise ScenarioError(f"tool '{decl.name}' ({path.name}): {exc}", **where) from None
        out.append((decl.name, PackTool(decl, path, source, model)))
    return tuple(out)
