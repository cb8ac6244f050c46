"""Bring external suites in: a JSON-lines file becomes a scenario pack folder.

One line is one scenario, a JSON object with these fields:

* ``prompt`` (required; ``question`` is accepted as an alias) -- what the model sees.
* ``code`` (required; ``program`` is accepted as an alias) -- the ground-truth
  Python program.
* ``support`` (required) -- continuous | discrete | categorical | multivariate | permutation.
* ``answer_format`` -- as in a scenario file (e.g. ``{"type": "label", "labels": [...]}``;
  permutation ``items`` may be any JSON scalars, floats included);
  may be left out for continuous (``number``), discrete (``integer``) and
  multivariate (``vector`` of ``dimension``). For multivariate, ``dimension``
  may be left out when ``answer_format.dim`` gives it.
* optional: ``id``, ``title``, ``tags``, ``kind`` (default ``narrative``),
  ``batch`` (default false), ``dimension``, ``timeout_s``, ``notes``.
* optional ``fixed_batch`` (an int K): the program ignores ``N`` and prints one
  JSON (or Python-literal) list of exactly K samples per run, as
  UnpredictaBench's ground-truth programs do with K = 10,000. The importer
  wraps such a program so it follows the batch contract: the wrapper captures
  the program's output and prints its first ``N`` samples. A run can therefore
  ask for at most K reference samples from such a scenario (a larger ``N``
  fails with a message saying so). ``fixed_batch`` implies ``batch: true``.

Contract of :func:`import_jsonl`: every line is checked against the scenario
model; a bad line yields one :class:`ImportProblem` (line number, field,
message) and is skipped, the good lines are still written. Ids are
normalised to the id pattern and prefixed with the pack name (``<name>-``)
so they cannot collide with other packs; a missing id becomes
``<name>-<line>``. Nothing is written when no line is usable, and an existing
non-empty output folder is never overwritten. The written folder passes
:func:`~stochbox.scenarios.validate_path`: each scenario is re-loaded from
disk before the function returns.

Files are written with ``|`` block scalars for multi-line text (prompt, code,
notes) so they read like hand-written scenarios; trailing spaces are
dropped and leading tabs expanded, since YAML block scalars cannot keep them.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from stochbox.errors import ScenarioError
from stochbox.scenarios.loader import PACK_FILE, load_scenario
from stochbox.scenarios.models import SCENARIO_ID_PATTERN, PackManifest, Scenario

#: Keys a JSONL line may carry (anything else is reported as unknown).
KNOWN_FIELDS = frozenset(
    {
        "id", "title", "prompt", "question", "code", "program", "support", "answer_format", "kind",
        "tags", "batch", "fixed_batch", "dimension", "timeout_s", "notes",
    }
)
_DEFAULT_FORMAT = {"continuous": "number", "discrete": "integer", "multivariate": "vector"}


class ImportProblem(BaseModel):
    """One skipped line: where it is and what is wrong with it."""

    model_config = ConfigDict(frozen=True)

    line: int
    field: str | None
    message: str

    def render(self, file: str) -> str:
        where = f"{file}:{self.line}" + (f": field '{self.field}'" if self.field else "")
        return f"{where}: {self.message}"


class ImportResult(BaseModel):
    """What :func:`import_jsonl` did. ``exit_code``: 0 all imported, 1 some skipped, 2 nothing usable."""

    out_dir: Path
    pack: str
    imported: list[str]
    problems: list[ImportProblem]

    @property
    def exit_code(self) -> int:
        if not self.imported:
            return 2
        return 1 if self.problems else 0


# ---------------------------------------------------------------- YAML output


class _BlockDumper(yaml.SafeDumper):
    """Safe dumper that writes multi-line strings as ``|`` blocks and keeps key order."""


def _str_representer(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


def _is_flat(values: list[Any]) -> bool:
    return all(isinstance(v, (int, float, bool)) or (isinstance(v, str) and "\n" not in v) for v in values)


def _list_representer(dumper: yaml.SafeDumper, value: list[Any]) -> yaml.SequenceNode:
    # Short lists of scalars (tags, labels, parameters) read best inline: [a, b, c].
    return dumper.represent_sequence("tag:yaml.org,2002:seq", value, flow_style=_is_flat(value))


def _dict_representer(dumper: yaml.SafeDumper, value: dict[str, Any]) -> yaml.MappingNode:
    flat = _is_flat(list(value.values())) and len(value) <= 4
    return dumper.represent_mapping("tag:yaml.org,2002:map", value, flow_style=flat)


class _TopLevel(dict):
    """The document's root mapping: always written one field per line."""


def _top_representer(dumper: yaml.SafeDumper, value: _TopLevel) -> yaml.MappingNode:
    return dumper.represent_mapping("tag:yaml.org,2002:map", dict(value), flow_style=False)


_BlockDumper.add_representer(_TopLevel, _top_representer)
_BlockDumper.add_representer(str, _str_representer)
_BlockDumper.add_representer(list, _list_representer)
_BlockDumper.add_representer(dict, _dict_representer)


def tidy_block(text: str) -> str:
    """Text a YAML block scalar can hold: no trailing spaces, no leading tabs, one final newline."""
    lines = []
    for line in text.replace("\r\n", "\n").split("\n"):
        stripped = line.lstrip(" \t")
        indent = line[: len(line) - len(stripped)].expandtabs(8)
        lines.append((indent + stripped).rstrip())
    return "\n".join(lines).strip("\n") + "\n"


def dump_yaml(data: dict[str, Any]) -> str:
    """YAML text for a scenario or manifest mapping (key order kept, multi-line text as blocks)."""
    return yaml.dump(_TopLevel(data), Dumper=_BlockDumper, sort_keys=False, allow_unicode=True, width=100)


def scenario_document(sc: Scenario) -> dict[str, Any]:
    """The mapping written to ``<id>.yaml`` for ``sc`` (loader-filled fields and defaults left out)."""
    data = sc.model_dump(mode="json", exclude_none=True, exclude={"pack", "source"})
    data["answer_format"] = sc.answer_format.model_dump(mode="json", exclude_none=True, exclude_defaults=True)
    data["answer_format"]["type"] = sc.answer_format.type.value
    data["ground_truth"] = sc.ground_truth.model_dump(mode="json", exclude_none=True, exclude_defaults=True)
    data["ground_truth"]["code"] = sc.ground_truth.code
    order = ["id", "title", "prompt", "kind", "support", "dimension", "answer_format", "ground_truth"]
    return {k: data[k] for k in order if k in data} | {k: v for k, v in data.items() if k not in order}


# ---------------------------------------------------------------- fixed-size programs

_FIXED_BATCH_HEAD = """\
# stochbox import: the program below prints one list of {k} samples per run
# (it ignores N); this wrapper captures that output and prints the first N.
import ast as _sb_ast, io as _sb_io, json as _sb_json, sys as _sb_sys
_sb_n = N
_sb_stdout, _sb_sys.stdout = _sb_sys.stdout, _sb_io.StringIO()
# ---- original program ----
"""

_FIXED_BATCH_TAIL = """\
# ---- end of original program ----
_sb_out, _sb_sys.stdout = _sb_sys.stdout.getvalue(), _sb_stdout
_sb_lines = [l for l in _sb_out.splitlines() if l.strip()]
if not _sb_lines:
    raise SystemExit("stochbox-contract: the program printed nothing")
_sb_last = _sb_lines[-1]
try:
    _sb_samples = _sb_json.loads(_sb_last)
except ValueError:
    try:
        _sb_samples = _sb_ast.literal_eval(_sb_last.strip())
    except (ValueError, SyntaxError):
        _sb_shown = _sb_last.strip() if len(_sb_last.strip()) <= 80 else _sb_last.strip()[:77] + "..."
        raise SystemExit(f"stochbox-contract: last stdout line {{_sb_shown!r}} is neither JSON nor a Python literal")
if _sb_n > len(_sb_samples):
    raise SystemExit(f"stochbox-contract: this program prints {{len(_sb_samples)}} samples per run; N={{_sb_n}} is more (fixed_batch={k})")
print(_sb_json.dumps(list(_sb_samples)[:_sb_n]))
"""


def wrap_fixed_batch(code: str, k: int) -> str:
    """Batch-contract program around ``code``, which prints a list of ``k`` samples whatever ``N`` is."""
    return _FIXED_BATCH_HEAD.format(k=k) + tidy_block(code) + _FIXED_BATCH_TAIL.format(k=k)


# ---------------------------------------------------------------- lines to scenarios


def normalise_id(raw: str, pack: str) -> str:
    """``raw`` lowercased, odd characters replaced by ``-``, prefixed with ``<pack>-`` unless already."""
    slug = re.sub(r"[^a-z0-9_.-]+", "-", raw.strip().lower()).strip("-._")
    if not slug.startswith(f"{pack}-"):
        slug = f"{pack}-{slug}" if slug else pack
    return slug[:128]


class _LineError(Exception):
    def __init__(self, field: str | None, message: str) -> None:
        super().__init__(message)
        self.field, self.message = field, message


def _first_line_title(prompt: str) -> str:
    first = next((l.strip() for l in prompt.splitlines() if l.strip()), "imported scenario")
    return first if len(first) <= 70 else first[:67].rstrip() + "..."


def scenario_from_record(record: Any, *, pack: str, line: int) -> Scenario:
    """Validate one decoded JSONL record into a :class:`Scenario`; raises ``_LineError``."""
    if not isinstance(record, dict):
        raise _LineError(None, "must be a JSON object with prompt, code, support, ...")
    unknown = sorted(set(record) - KNOWN_FIELDS)
    if unknown:
        raise _LineError(unknown[0], f"is not a known field (known: {', '.join(sorted(KNOWN_FIELDS))})")
    prompt = record.get("prompt", record.get("question"))
    code = record.get("code", record.get("program"))
    for name, value in (("prompt", prompt), ("code", code)):
        if not isinstance(value, str) or not value.strip():
            raise _LineError(name, "is required: a non-empty string")
    support = record.get("support")
    if not isinstance(support, str):
        raise _LineError("support", "is required: continuous, discrete, categorical, multivariate or permutation")
    fmt = record.get("answer_format")
    if fmt is None and support in _DEFAULT_FORMAT:
        fmt = {"type": _DEFAULT_FORMAT[support]}
        if support == "multivariate":
            fmt["dim"] = record.get("dimension")
    if fmt is None:
        raise _LineError("answer_format", f"is required for support '{support}' (labels or items must be given)")
    batch = record.get("batch", False)
    fixed = record.get("fixed_batch")
    if fixed is not None:
        if isinstance(fixed, bool) or not isinstance(fixed, int) or fixed < 1:
            raise _LineError("fixed_batch", "must be a positive int: how many samples one run prints")
        code, batch = wrap_fixed_batch(code, fixed), True
    raw_id = record.get("id")
    if raw_id is not None and not isinstance(raw_id, (str, int)):
        raise _LineError("id", "must be a string or an int")
    sid = normalise_id(str(raw_id) if raw_id is not None else f"{line:04d}", pack)
    kind = record.get("kind", "narrative")
    tags = record.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise _LineError("tags", "must be a list of strings like 'family:normal'")
    extra_tags = [f"kind:{kind}", f"support:{support}", f"source:{pack}"]
    data: dict[str, Any] = {
        "id": sid,
        "title": record.get("title") or _first_line_title(prompt),
        "prompt": tidy_block(prompt),
        "kind": kind,
        "support": support,
        "answer_format": fmt,
        "ground_truth": {"code": tidy_block(code), "batch": batch},
        "tags": list(dict.fromkeys([*tags, *extra_tags])),
        "pack": pack,
    }
    for key in ("dimension", "notes"):
        if record.get(key) is not None:
            data[key] = tidy_block(record[key]).rstrip("\n") if key == "notes" else record[key]
    if support == "multivariate" and "dimension" not in data and isinstance(fmt, dict) and fmt.get("dim") is not None:
        data["dimension"] = fmt["dim"]  # the vector length is already in answer_format.dim
    if record.get("timeout_s") is not None:
        data["ground_truth"]["timeout_s"] = record["timeout_s"]
    if not re.fullmatch(SCENARIO_ID_PATTERN, sid):
        raise _LineError("id", f"cannot be made into a valid id (got {raw_id!r})")
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err.get("loc", ())) or None
        if loc and loc.startswith("ground_truth.code"):
            loc = "code"
        msg = "is required but missing" if err.get("type") == "missing" else err.get("msg", "invalid value")
        raise _LineError(loc, msg) from None


# ---------------------------------------------------------------- the whole file


def import_jsonl(file: Path | str, out_dir: Path | str, *, name: str | None = None) -> ImportResult:
    """Turn ``file`` (JSON lines) into a pack folder ``out_dir`` named ``name`` (default: the folder's name).

    Raises :class:`ScenarioError` for problems with the whole call (unreadable
    file, bad pack name, non-empty output folder); per-line problems are in
    the result.
    """
    file, out_dir = Path(file), Path(out_dir)
    pack = name if name is not None else re.sub(r"[^a-z0-9_-]+", "-", out_dir.name.lower()).strip("-_")
    try:
        PackManifest(name=pack, version="0", description="x")
    except ValidationError:
        raise ScenarioError(
            f"'{pack}' is not a valid pack name", field="name", hint="use --name with lowercase letters, digits, - and _"
        ) from None
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise ScenarioError("output folder exists and is not empty", file=str(out_dir), hint="choose a new --out folder")
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"cannot read file: {exc}", file=str(file)) from None

    scenarios: list[Scenario] = []
    problems: list[ImportProblem] = []
    seen: dict[str, int] = {}
    for lineno, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
        except json.JSONDecodeError as exc:
            problems.append(ImportProblem(line=lineno, field=None, message=f"not valid JSON: {exc.msg} (column {exc.colno})"))
            continue
        try:
            sc = scenario_from_record(record, pack=pack, line=lineno)
        except _LineError as exc:
            problems.append(ImportProblem(line=lineno, field=exc.field, message=exc.message))
            continue
        if sc.id in seen:
            problems.append(ImportProblem(line=lineno, field="id", message=f"duplicate id '{sc.id}' (also on line {seen[sc.id]})"))
            continue
        seen[sc.id] = lineno
        scenarios.append(sc)

    result = ImportResult(out_dir=out_dir, pack=pack, imported=[s.id for s in scenarios], problems=problems)
    if not scenarios:
        return result
    write_pack(out_dir, pack, f"Imported from {file.name} with 'stochbox scenarios import jsonl'.", scenarios)
    return result


def write_pack(out_dir: Path, pack: str, description: str, scenarios: list[Scenario]) -> None:
    """Write ``pack.yaml`` and one YAML file per scenario into ``out_dir``; each file is read back and must
    give the same scenario (a difference is a bug of the importer, not of the user's input)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest = {"name": pack, "version": "0.1.0", "description": description}
    (out_dir / PACK_FILE).write_text(dump_yaml(manifest), encoding="utf-8")
    for sc in scenarios:
        path = out_dir / f"{sc.id}.yaml"
        path.write_text(dump_yaml(scenario_document(sc)), encoding="utf-8")
        if load_scenario(path, pack=pack).model_dump(exclude={"source"}) != sc.model_dump(exclude={"source"}):
            raise AssertionError(f"round trip changed scenario {sc.id}")
