"""Import the UnpredictaBench paper's problems as they are published.

Input (the paper's code repository, ``UnpredictaBench/UnpredictaBenchCode``):

* ``ground_truth_codes/<task>_<model>/<uid>.py`` -- one program per problem;
  it ignores ``N`` and prints one Python list of (usually 10,000) samples.
  ``realworld_human`` and ``shuffling_human`` have no model suffix.
* ``realworld_mapping.json`` -- how the paper reads each real-world program's
  text output (``shuffling_separated_by_new_line``,
  ``selection_separated_by_new_line``, ``single_item_selection``).
* optional questions: the hub dataset as the paper's ``prepare_data.py``
  writes it (``data/<task>/questions.json``), one such file, or a JSON-lines
  or parquet export of the same rows (``uid``, ``id``, ``prompt_text``,
  ``category``, ``subcategory``, ``task``). Questions and programs are paired
  by ``uid``; without questions every scenario gets a stand-in prompt.

Support follows the paper (category ``Discrete_distributions`` -> discrete,
``Absolutely_continuous`` -> continuous, ``Mixed`` -> continuous with atoms,
``Joint`` -> multivariate, ``Non_numeric`` -> categorical; real-world tasks
from their mapping, shuffling tasks -> permutation) and is confirmed by one
sandboxed probe run of each program, which also gives the batch size (the
``fixed_batch``), the label set and the permutation items (any JSON scalars).
Where the values contradict the category (a "discrete" compound Poisson that
prints non-integers, a "joint" program that prints one coordinate), the values
decide the support, the scenario's notes say so, and the tag
``paper-test:...`` keeps the paper's routing.

Tags (read by presets and ``report --by-tag``): ``group:<task>`` (the task
folder minus the model suffix), ``prompt:code|textual|textual-multimodal|
realworld|shuffling``, ``wording:explicit|implicit``,
``spread:concentrated|spread-out``, ``kind:...``, ``support:...``,
``category:<first path part, lowercased>``, ``family:<subcategory>``,
``paper-test:permutation-ks|exact-ks`` (the paper's test for this problem:
discrete targets, real-world and shuffling problems get the permutation KS),
``paper-encoding:value|label-order|lehmer`` (how the paper turns a sample into
a number: the value; the label's position in ``labels``, which follow the
mapping's codes; the Lehmer code of the ordering against ``items``),
``atoms:yes`` (continuous values with repeats in the probe) and
``source:unpredictabench``.

Contract of :func:`import_unpredictabench`: a program that fails, times out
or prints something unusable is left out with its uid and the reason, and the
rest is still written (``exit_code`` 1); nothing is written when nothing is
usable (2). Programs only ever run in the sandbox given. The written folder
passes :func:`~stochbox.scenarios.validate_path`, and holds
``import-report.json`` (what was imported, left out and why, warnings).
"""

from __future__ import annotations

import json
import math
import re
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from stochbox.errors import MissingExtraError, ScenarioError
from stochbox.scenarios.importer import tidy_block, write_pack
from stochbox.scenarios.models import AnswerFormat, PackManifest, Scenario
from stochbox.scenarios.paper_output import adapter_program, normalise_key, probe_program, to_samples
from stochbox.scenarios.samples import coerce_sample

if TYPE_CHECKING:
    from stochbox.sandbox.base import ExecResult, Sandbox

#: Task folders of the paper, without the model suffix.
TASK_GROUPS = (
    "code_explicit_concentrated",
    "code_explicit_spread_out",
    "code_implicit_concentrated",
    "code_implicit_spread_out",
    "textual_explicit_concentrated",
    "textual_explicit_spread_out",
    "textual_implicit_concentrated",
    "textual_implicit_spread_out",
    "textual_multimodal_explicit_concentrated",
    "textual_multimodal_explicit_spread_out",
    "realworld_human",
    "shuffling_human",
)
CODES_FOLDER = "ground_truth_codes"
MAPPING_FILE = "realworld_mapping.json"
PROBE_TIMEOUT_S = 120.0  # the paper's own limit per program
PROBE_OUTPUT_CAP = 64 * 1024 * 1024
#: Distinct numeric values above which a "Non_numeric" program is not read as categories.
MAX_NUMERIC_LABELS = 100
SERVER_CRASH_RETRIES = 2


def task_group(folder: str) -> str:
    """The paper's task name of a ``ground_truth_codes`` folder: ``code_explicit_concentrated_gpt-5.4`` -> ``code_explicit_concentrated``."""
    for group in sorted(TASK_GROUPS, key=len, reverse=True):
        if folder == group or folder.startswith(group + "_"):
            return group
    return folder


# ---------------------------------------------------------------- results


class LeftOut(BaseModel):
    """A program that was not imported, and why."""

    model_config = ConfigDict(frozen=True)

    uid: str
    task: str
    reason: str

    def render(self) -> str:
        return f"{self.task}/{self.uid}: {self.reason}"


class ImportNote(BaseModel):
    model_config = ConfigDict(frozen=True)

    uid: str
    message: str


class UBImportResult(BaseModel):
    """What :func:`import_unpredictabench` did. ``exit_code``: 0 all imported, 1 some left out, 2 nothing usable."""

    out_dir: Path
    pack: str
    imported: list[str]
    left_out: list[LeftOut]
    warnings: list[ImportNote] = Field(default_factory=list)
    questions: str | None = None
    stand_in_prompts: int = 0
    probe_seconds: float = 0.0
    #: Sum of the probe executions' own durations (``probe_seconds`` x jobs when the pool is kept busy).
    probe_exec_seconds: float = 0.0
    by_group: dict[str, dict[str, int]] = Field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        if not self.imported:
            return 2
        return 1 if self.left_out else 0


class _Skip(Exception):
    pass


# ---------------------------------------------------------------- reading the layout


def find_layout(code_dir: Path) -> tuple[Path, Path | None]:
    """(the ``ground_truth_codes`` folder, ``realworld_mapping.json`` or None) under ``code_dir``."""
    code_dir = Path(code_dir)
    codes = code_dir / CODES_FOLDER if (code_dir / CODES_FOLDER).is_dir() else code_dir
    if not codes.is_dir() or not any(p.is_dir() for p in codes.iterdir()):
        raise ScenarioError(
            f"no {CODES_FOLDER}/<task>/<uid>.py here",
            file=str(code_dir),
            hint="give the paper's code folder (the one holding ground_truth_codes/ and realworld_mapping.json)",
        )
    for candidate in (codes.parent / MAPPING_FILE, code_dir / MAPPING_FILE):
        if candidate.is_file():
            return codes, candidate
    return codes, None


def read_mapping(path: Path | None) -> dict[str, dict[str, Any]]:
    """uid -> ``{"how": group name, "metadata": {...}}`` from ``realworld_mapping.json``."""
    if path is None:
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ScenarioError(f"cannot read the real-world mapping: {exc}", file=str(path)) from None
    out: dict[str, dict[str, Any]] = {}
    for how, group in (data or {}).items():
        entries = group.get("uids:", group.get("uids", [])) if isinstance(group, dict) else []
        for entry in entries:
            if isinstance(entry, dict) and isinstance(entry.get("value"), str):
                out[entry["value"]] = {"how": how, "metadata": entry.get("metadata") or {}}
    return out


def _question_rows(path: Path) -> list[dict[str, Any]]:
    if path.is_dir():
        files = sorted(path.glob("*/questions.json")) or sorted(path.glob("questions.json"))
        if not files:
            raise ScenarioError("no <task>/questions.json in this folder", file=str(path), hint="give data/ as prepare_data.py writes it")
        rows: list[dict[str, Any]] = []
        for f in files:
            for row in _question_rows(f):
                rows.append({"task": f.parent.name, **row})
        return rows
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            try:
                import pyarrow.parquet as pq
            except ImportError:
                raise MissingExtraError("reading parquet questions", "export") from None
            return pq.read_table(path).to_pylist()
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(f"cannot read questions: {exc}", file=str(path)) from None
    if suffix in (".jsonl", ".ndjson"):
        rows = []
        for lineno, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise ScenarioError(f"not valid JSON: {exc.msg}", file=str(path), line=lineno) from None
        return rows
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ScenarioError(f"not valid JSON: {exc.msg}", file=str(path), line=exc.lineno) from None
    if isinstance(data, dict):
        data = data.get("train", data.get("rows", [data]))
    if not isinstance(data, list):
        raise ScenarioError("must be a JSON list of question rows", file=str(path))
    return data


def load_questions(path: Path | str) -> dict[str, dict[str, Any]]:
    """uid -> question row (``uid``, ``id``, ``prompt_text``, ``category``, ``subcategory``, ``task``)."""
    path = Path(path)
    if not path.exists():
        raise ScenarioError("no such file or folder", file=str(path), hint="--questions takes data/, a questions.json, .jsonl or .parquet")
    out: dict[str, dict[str, Any]] = {}
    for i, row in enumerate(_question_rows(path), start=1):
        if not isinstance(row, dict) or not isinstance(row.get("uid"), str):
            raise ScenarioError(f"question row {i} has no 'uid'", file=str(path), field="uid")
        out[row["uid"]] = row
    return out


# ---------------------------------------------------------------- probing


def _probe_one(sandbox: "Sandbox", code: str, seed: int) -> "ExecResult":
    res = None
    for _ in range(1 + SERVER_CRASH_RETRIES):
        res = sandbox.execute(
            probe_program(),
            timeout_s=PROBE_TIMEOUT_S,
            seed=seed,
            output_cap=PROBE_OUTPUT_CAP,
            globals_={"__stochbox_program__": code},
        )
        if res.killed_reason != "server_crash":
            break
    assert res is not None
    return res


def _probe_values(res: "ExecResult") -> list[Any]:
    if res.timed_out:
        raise _Skip(f"timed out after {PROBE_TIMEOUT_S:g}s in the sandbox")
    if res.truncated:
        raise _Skip("printed more than the output cap")
    if not res.ok:
        tail = [l for l in (res.stderr or "").strip().splitlines() if l.strip()]
        why = res.sandbox_error or (tail[-1].strip() if tail else "no error message")
        raise _Skip(f"failed (exit {res.exit_code}): {why[:200]}")
    lines = [l for l in res.stdout.splitlines() if l.strip()]
    try:
        report = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        raise _Skip("probe printed nothing readable") from None
    if "error" in report:
        raise _Skip(report["error"])
    values = report["values"]
    if not values:
        raise _Skip("printed an empty list")
    return values


# ---------------------------------------------------------------- deciding the support


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _is_scalar(v: Any) -> bool:
    return v is None or isinstance(v, (str, bool)) or _is_number(v)


def _item_key(v: Any) -> tuple[int, Any]:
    if _is_number(v):
        return (1, float(v))
    if isinstance(v, str):
        return (2, v.strip())
    return (0, repr(v))


def _sorted_labels(values: list[Any]) -> list[Any]:
    return sorted(set(values), key=_item_key)


def _numeric_decision(values: list[Any], category: str) -> tuple[str, dict[str, Any], list[str]]:
    """(support, answer_format, notes) for numbers."""
    notes = []
    integral = all(float(v).is_integer() for v in values)
    cat = category.lower()
    discrete = "discrete_distributions" in cat  # as the paper tests it: "Mixed_discretecontinuous..." is not
    if discrete and not integral:
        notes.append("the category is discrete but the program prints non-integer values: imported as continuous")
    if "absolutely_continuous" in cat or "mixed" in cat or (discrete and not integral):
        return "continuous", {"type": "number"}, notes
    if discrete:
        return "discrete", {"type": "integer"}, notes
    if cat and "joint" in cat:
        notes.append("the category is joint but the program prints one number per sample: imported as one-dimensional")
    if integral and all(isinstance(v, int) for v in values):
        return "discrete", {"type": "integer"}, notes
    return "continuous", {"type": "number"}, notes


def decide(values: list[Any], *, group: str, category: str, mapping: dict[str, Any] | None) -> dict[str, Any]:
    """Support, answer format, encoding, tags and notes for a program whose run printed ``values``.

    Raises ``_Skip`` with a reason when the values cannot be one scenario's samples.
    """
    tags: list[str] = []
    notes: list[str] = []
    cat = category.lower()
    if group == "realworld_human" or mapping is not None:
        if mapping is None:
            raise _Skip(f"real-world program without an entry in {MAPPING_FILE} (the paper does not score it)")
        how, meta = mapping["how"], mapping["metadata"]
        if not all(isinstance(v, str) or _is_number(v) for v in values):
            raise _Skip("a real-world program must print a list of strings or numbers")
        if how.startswith("shuffling"):
            encoding = {"kind": "lines"}
            samples = to_samples(values, encoding)
            items = _sorted_labels(samples[0]) if samples and samples[0] else []
            fmt = {"type": "list", "items": items}
            tags.append("paper-encoding:lehmer")
            return _checked("permutation", fmt, encoding, values, tags, notes)
        keyed = meta.get("mapping")
        if keyed:
            order = sorted(keyed, key=lambda k: keyed[k])
            encoding: dict[str, Any] = {"kind": "mapping", "keys": order}
            empty = next((k for k in order if normalise_key(k) in ("(nooutput)", "nooutput")), None)
            if empty is not None:
                encoding["empty"] = empty
            samples = to_samples(values, encoding)
            dropped = len(values) - len(samples)
            if dropped:
                notes.append(
                    f"{dropped} of {len(values)} printed values match no key of the paper's mapping and are dropped, as the paper drops them"
                )
            tags.append("paper-encoding:label-order")
            return _checked("categorical", {"type": "label", "labels": order}, encoding, values, tags, notes)
        encoding = {"kind": "values"} if all(_is_number(v) for v in values) else {"kind": "number"}
        try:
            numbers = to_samples(values, encoding)
        except (TypeError, ValueError):
            raise _Skip("the mapping says number but the program prints values that are not numbers") from None
        support, fmt, more = _numeric_decision(numbers, "")
        tags.append("paper-encoding:value")
        return _checked(support, fmt, encoding, values, tags, notes + more)
    if group == "shuffling_human":
        if not all(isinstance(v, list) and v and all(_is_scalar(x) for x in v) for v in values):
            raise _Skip("a shuffling program must print a list of orderings (lists of scalars)")
        tags.append("paper-encoding:lehmer")
        fmt = {"type": "list", "items": _sorted_labels(values[0])}
        return _checked("permutation", fmt, {"kind": "values"}, values, tags, notes)
    tags.append("paper-encoding:value")
    if all(_is_number(v) for v in values):
        if "non_numeric" in cat:
            distinct = _sorted_labels(values)
            if 2 <= len(distinct) <= MAX_NUMERIC_LABELS:
                labels = [str(int(v)) if float(v).is_integer() else str(v) for v in distinct]
                notes.append("a non-numeric target printed as numbers: each number is a label")
                return _checked("categorical", {"type": "label", "labels": labels}, {"kind": "label"}, values, tags, notes)
            notes.append(f"the category is non-numeric but the program prints {len(distinct)} distinct numbers: imported as numbers")
        support, fmt, more = _numeric_decision(values, category)
        if support == "continuous" and len(set(values)) < len(values):
            tags.append("atoms:yes")
        return _checked(support, fmt, {"kind": "values"}, values, tags, notes + more)
    if all(isinstance(v, list) and v and all(_is_number(x) for x in v) for v in values):
        dims = sorted({len(v) for v in values})
        if len(dims) > 1:
            raise _Skip(f"prints vectors of different lengths ({dims[0]}..{dims[-1]})")
        if dims[0] == 1:
            raise _Skip("prints one-element lists: expected numbers, or vectors of at least 2 numbers")
        if "joint" not in cat and cat:
            notes.append(f"the category is {category} but the program prints vectors: imported as multivariate")
        element = "integer" if all(isinstance(x, int) for v in values for x in v) else "number"
        fmt = {"type": "vector", "dim": dims[0]} | ({"element": "integer"} if element == "integer" else {})
        return _checked("multivariate", fmt, {"kind": "values"}, values, tags, notes)
    if all(isinstance(v, str) for v in values):
        labels = _sorted_labels([v.strip() for v in values])
        if "" in labels:
            raise _Skip("prints an empty label")
        return _checked("categorical", {"type": "label", "labels": labels}, {"kind": "label"}, values, tags, notes)
    kinds = sorted({type(v).__name__ for v in values})
    raise _Skip(f"prints values stochbox cannot read as one kind of sample ({', '.join(kinds)})")


def _checked(
    support: str, fmt: dict[str, Any], encoding: dict[str, Any], values: list[Any], tags: list[str], notes: list[str]
) -> dict[str, Any]:
    try:
        answer = AnswerFormat.model_validate(fmt)
    except ValidationError as exc:
        raise _Skip(f"cannot be a {support} scenario: {exc.errors()[0].get('msg', 'invalid answer format')}") from None
    samples = to_samples(values, encoding)
    if not samples:
        raise _Skip("no printed value is usable")
    for i, s in enumerate(samples):
        try:
            coerce_sample(s, answer)
        except ValueError as exc:
            raise _Skip(f"sample {i} is not a valid {support} sample: {exc}") from None
    return {"support": support, "answer_format": fmt, "encoding": encoding, "k": len(samples), "tags": tags, "notes": notes}


# ---------------------------------------------------------------- scenarios


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", str(text).lower()).strip("-")


def _group_tags(group: str) -> list[str]:
    if group in ("realworld_human", "shuffling_human"):
        return [f"prompt:{group.split('_')[0]}"]
    tags = []
    for form in ("textual_multimodal", "textual", "code"):
        if group.startswith(form + "_"):
            tags.append(f"prompt:{form.replace('_', '-')}")
            break
    for part, tag in (("explicit", "wording"), ("implicit", "wording"), ("concentrated", "spread"), ("spread_out", "spread")):
        if f"_{part}" in group:
            tags.append(f"{tag}:{part.replace('_', '-')}")
    return tags


def _kind(group: str) -> str:
    if group.startswith("code_") or group == "realworld_human":
        return "program"
    if group == "shuffling_human":
        return "canonical"
    return "narrative"


def _paper_test(group: str, question: dict[str, Any] | None, support: str) -> str:
    if group in ("realworld_human", "shuffling_human"):
        return "permutation-ks"
    if question is None:
        return "permutation-ks" if support == "discrete" else "exact-ks"
    labels = (question.get("id"), question.get("category"))
    return "permutation-ks" if any(l and "Discrete_distributions" in str(l) for l in labels) else "exact-ks"


def build_scenario(
    *, pack: str, uid: str, folder: str, code: str, decision: dict[str, Any], question: dict[str, Any] | None
) -> Scenario:
    group = task_group(folder)
    category = str((question or {}).get("category") or "")
    subcategory = str((question or {}).get("subcategory") or "")
    tags = [f"group:{group}", *_group_tags(group), f"kind:{_kind(group)}", f"support:{decision['support']}"]
    if category:
        tags.append(f"category:{_slug(category.split('/')[0]).replace('-', '_')}")
    elif group not in ("realworld_human", "shuffling_human"):
        tags.append("category:unknown")
    if subcategory:
        tags.append(f"family:{_slug(subcategory)}")
    tags += [f"paper-test:{_paper_test(group, question, decision['support'])}", *decision["tags"], "source:unpredictabench"]
    if question is not None and str(question.get("prompt_text") or "").strip():
        prompt = str(question["prompt_text"])
    else:
        prompt = (
            f"UnpredictaBench problem {uid} ({group}). The question text was not imported "
            "(import with --questions to get it); this scenario is for ground truth, oracle and calibration runs."
        )
    first_line = next((l.strip() for l in prompt.splitlines() if l.strip()), "") if question is not None else ""
    title = subcategory or (first_line if 0 < len(first_line) <= 60 else f"UnpredictaBench {uid}")
    notes = [f"UnpredictaBench {CODES_FOLDER}/{folder}/{uid}.py (task {group}); one run prints {decision['k']} samples."]
    if category:
        notes.append(f"category: {category}; id: {(question or {}).get('id')}")
    notes += decision["notes"]
    data: dict[str, Any] = {
        "id": f"{pack}-{uid.lower()}",
        "title": f"{title} ({group})",
        "prompt": tidy_block(prompt),
        "kind": _kind(group),
        "support": decision["support"],
        "answer_format": decision["answer_format"],
        "ground_truth": {
            "code": tidy_block(adapter_program(tidy_block(code), decision["k"], decision["encoding"])),
            "batch": True,
            "timeout_s": PROBE_TIMEOUT_S,
        },
        "tags": list(dict.fromkeys(tags)),
        "notes": "\n".join(notes),
        "pack": pack,
    }
    if decision["support"] == "multivariate":
        data["dimension"] = decision["answer_format"]["dim"]
    return Scenario.model_validate(data)


# ---------------------------------------------------------------- the whole import


def _programs(codes: Path) -> list[tuple[str, str, Path]]:
    """(folder, uid, path) of every ``<task>/<uid>.py``, in folder then uid order."""
    out = []
    for folder in sorted(p for p in codes.iterdir() if p.is_dir()):
        for f in sorted(folder.glob("*.py")):
            out.append((folder.name, f.stem, f))
    return out


def import_unpredictabench(
    code_dir: Path | str,
    out_dir: Path | str,
    *,
    sandbox: "Sandbox",
    questions: Path | str | None = None,
    name: str | None = None,
    jobs: int = 2,
    seed: int = 0,
    tasks: list[str] | None = None,
) -> UBImportResult:
    """Import the paper's programs under ``code_dir`` into a new pack folder ``out_dir``.

    Each program runs once in ``sandbox`` (``jobs`` at a time). ``tasks``
    restricts the import to these task groups. Raises :class:`ScenarioError`
    for problems with the whole call; per-program problems are in the result.
    """
    from stochbox.seeding import derive_seed

    out_dir = Path(out_dir)
    pack = name if name is not None else re.sub(r"[^a-z0-9_-]+", "-", out_dir.name.lower()).strip("-_")
    try:
        PackManifest(name=pack, version="0", description="x")
    except ValidationError:
        raise ScenarioError(f"'{pack}' is not a valid pack name", field="name", hint="use --name with lowercase letters, digits, - and _") from None
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise ScenarioError("output folder exists and is not empty", file=str(out_dir), hint="choose a new --out folder")
    codes, mapping_path = find_layout(Path(code_dir))
    mapping = read_mapping(mapping_path)
    rows = load_questions(questions) if questions is not None else {}
    programs = [p for p in _programs(codes) if tasks is None or task_group(p[0]) in tasks]
    if not programs:
        raise ScenarioError(f"no <uid>.py programs in {codes}", file=str(codes))

    warnings: list[ImportNote] = []
    if any(task_group(f) == "realworld_human" for f, _, _ in programs) and mapping_path is None:
        warnings.append(ImportNote(uid="*", message=f"no {MAPPING_FILE} next to {CODES_FOLDER}/: real-world programs cannot be read"))
    sources: dict[str, str] = {}
    left_out: list[LeftOut] = []
    for folder, uid, path in programs:
        try:
            sources[uid] = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            left_out.append(LeftOut(uid=uid, task=folder, reason=f"cannot read the program: {exc}"))

    t0 = time.perf_counter()
    runnable = [(f, u, p) for f, u, p in programs if u in sources]
    with ThreadPoolExecutor(max_workers=max(1, jobs), thread_name_prefix="ub-probe") as pool:
        futures = {
            u: pool.submit(_probe_one, sandbox, sources[u], derive_seed(seed, "ub-import-probe", u)) for _, u, _ in runnable
        }
        results = {u: fut.result() for u, fut in futures.items()}
    probe_s = time.perf_counter() - t0

    scenarios: list[Scenario] = []
    seen: dict[str, str] = {}
    unpaired: list[str] = []
    for folder, uid, _ in runnable:
        group = task_group(folder)
        question = rows.get(uid)
        try:
            if uid in seen:
                raise _Skip(f"duplicate uid (also in {seen[uid]})")
            values = _probe_values(results[uid])
            category = str((question or {}).get("category") or "")
            decision = decide(values, group=group, category=category, mapping=mapping.get(uid))
            sc = build_scenario(pack=pack, uid=uid, folder=folder, code=sources[uid], decision=decision, question=question)
        except _Skip as exc:
            left_out.append(LeftOut(uid=uid, task=folder, reason=str(exc)))
            continue
        except ValidationError as exc:
            err = exc.errors()[0]
            left_out.append(LeftOut(uid=uid, task=folder, reason=f"not a valid scenario: {'.'.join(map(str, err['loc']))}: {err['msg']}"))
            continue
        seen[uid] = folder
        if question is not None:
            q_task = question.get("task")
            if q_task and task_group(str(q_task)) != group:
                warnings.append(ImportNote(uid=uid, message=f"question says task '{q_task}', program is in {folder}/"))
        elif rows:
            unpaired.append(uid)
        for note in decision["notes"]:
            warnings.append(ImportNote(uid=uid, message=note))
        scenarios.append(sc)
    if unpaired:
        shown = ", ".join(unpaired[:3]) + (", ..." if len(unpaired) > 3 else "")
        warnings.append(ImportNote(uid="*", message=f"{len(unpaired)} program(s) have no question with their uid ({shown}): imported with a stand-in prompt"))
    if rows:
        missing = sorted(set(rows) - {u for _, u, _ in programs})
        if missing:
            warnings.append(ImportNote(uid="*", message=f"{len(missing)} question(s) have no program (e.g. {missing[0]})"))
    known = {u for _, u, _ in programs}
    absent = sorted(u for u, m in mapping.items() if u not in known and (tasks is None or "realworld_human" in tasks))
    if absent:
        warnings.append(ImportNote(uid="*", message=f"{len(absent)} uid(s) of {MAPPING_FILE} have no program (e.g. {absent[0]})"))

    by_group: dict[str, dict[str, int]] = {}
    for folder, uid, _ in programs:
        g = by_group.setdefault(task_group(folder), {"programs": 0, "imported": 0})
        g["programs"] += 1
        g["imported"] += uid in seen
    stand_in = sum(1 for s in scenarios if s.id.removeprefix(f"{pack}-") not in rows)
    result = UBImportResult(
        out_dir=out_dir,
        pack=pack,
        imported=[s.id for s in scenarios],
        left_out=left_out,
        warnings=warnings,
        questions=None if questions is None else str(questions),
        stand_in_prompts=stand_in,
        probe_seconds=round(probe_s, 2),
        probe_exec_seconds=round(sum(r.duration_s for r in results.values()), 2),
        by_group=by_group,
    )
    if not scenarios:
        return result
    write_pack(out_dir, pack, "UnpredictaBench problems imported with 'stochbox scenarios import unpredictabench'.", scenarios)
    report = result.model_dump(mode="json")
    (out_dir / "import-report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return result
