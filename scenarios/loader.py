"""Load and validate packs and scenario files.

Contract: every function here either returns validated models or raises
:class:`~stochbox.errors.ScenarioError` naming the file, the line (where the
YAML gives one), the field and what is expected. Nothing else escapes for bad
input. ``validate_path`` collects *all* errors of a folder instead of stopping
at the first, and lists every problem of a file, one error each.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from stochbox.errors import ScenarioError
from stochbox.conditions.templates import PromptTemplateError, PromptTemplates, load_prompt_templates
from stochbox.scenarios.models import Pack, PackManifest, Scenario

PACK_FILE = "pack.yaml"
SCENARIO_SUFFIXES = (".yaml", ".yml")


def _line_of(node: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """1-based line of the YAML node at ``loc`` (or its deepest existing parent)."""
    line = None if node is None else node.start_mark.line + 1
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            nxt = next((v for k, v in node.value if getattr(k, "value", None) == key), None)
            if nxt is None:
                break
            node = nxt
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
        else:
            break
        line = node.start_mark.line + 1
    return line


def _read_yaml(path: Path) -> tuple[Any, yaml.Node | None]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"cannot read file: {exc}", file=str(path)) from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        raise ScenarioError(
            f"not valid YAML: {problem}",
            file=str(path),
            line=None if mark is None else mark.line + 1,
            hint="check indentation and quoting; multi-line text goes in a '|' block",
        ) from None
    return data, node


def _one_problem(path: Path, node: yaml.Node | None, err: Any) -> ScenarioError:
    loc = tuple(err.get("loc", ()))
    field = ".".join(str(p) for p in loc) or None
    msg = err.get("msg", "invalid value")
    if err.get("type") == "missing":
        msg = "is required but missing"
    elif err.get("type") == "extra_forbidden":
        msg = "is not a known field (check the spelling)"
    return ScenarioError(msg, file=str(path), line=_line_of(node, loc), field=field)


def _validation_error(path: Path, node: yaml.Node | None, exc: ValidationError) -> ScenarioError:
    """The first problem, saying how many more there are; ``.problems`` holds all of them, one error each."""
    problems = [_one_problem(path, node, err) for err in exc.errors()]
    first = problems[0]
    more = len(problems) - 1
    if more:
        first = ScenarioError(
            f"{first.message} (and {more} more problem{'s' if more > 1 else ''} in this file)",
            file=first.file,
            line=first.line,
            field=first.field,
        )
    first.problems = problems  # type: ignore[attr-defined]
    return first


def _all_problems(err: ScenarioError) -> list[ScenarioError]:
    return list(getattr(err, "problems", None) or [err])


def load_manifest(folder: Path) -> PackManifest:
    path = Path(folder) / PACK_FILE
    if not path.is_file():
        raise ScenarioError(
            "no pack.yaml here", file=str(path), hint="a pack folder needs pack.yaml with name, version, description"
        )
    data, node = _read_yaml(path)
    if not isinstance(data, dict):
        raise ScenarioError("must be a mapping with name, version, description", file=str(path), line=1)
    try:
        return PackManifest.model_validate(data)
    except ValidationError as exc:
        raise _validation_error(path, node, exc) from None


def _pack_templates(folder: Path, manifest: PackManifest) -> PromptTemplates | None:
    """The pack's own default prompt templates (``prompts`` in pack.yaml), if it names a file."""
    if manifest.prompts is None:
        return None
    path = (folder / manifest.prompts).resolve()
    if not path.is_relative_to(folder.resolve()):
        raise ScenarioError("must point inside the pack folder", file=str(folder / PACK_FILE), field="prompts")
    if not path.is_file():
        raise ScenarioError(f"file '{manifest.prompts}' not found in the pack folder", file=str(folder / PACK_FILE), field="prompts")
    return load_prompt_templates(path)


def load_scenario(path: Path, *, pack: str | None = None) -> Scenario:
    """Load one scenario file; resolves ``ground_truth.file`` relative to it."""
    path = Path(path)
    data, node = _read_yaml(path)
    if not isinstance(data, dict):
        raise ScenarioError("must be a mapping of scenario fields (id, title, prompt, ...)", file=str(path), line=1)
    gt = data.get("ground_truth")
    if isinstance(gt, dict) and isinstance(gt.get("file"), str) and gt.get("code") is None:
        gt_path = (path.parent / gt["file"]).resolve()
        if not gt_path.is_relative_to(path.parent.resolve()):
            raise ScenarioError(
                "must point inside the pack folder",
                file=str(path),
                line=_line_of(node, ("ground_truth", "file")),
                field="ground_truth.file",
            )
        try:
            code = gt_path.read_text(encoding="utf-8")
        except OSError:
            raise ScenarioError(
                f"file '{gt['file']}' not found next to the scenario",
                file=str(path),
                line=_line_of(node, ("ground_truth", "file")),
                field="ground_truth.file",
            ) from None
        data = {**data, "ground_truth": {**gt, "file": None, "code": code}}
    if "prompts" in data:
        raise ScenarioError("prompt templates belong in pack.yaml ('prompts: FILE'), not in a scenario", file=str(path), field="prompts")
    data = {**data, "pack": pack, "source": str(path)}
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise _validation_error(path, node, exc) from None


def scenario_files(folder: Path) -> list[Path]:
    return sorted(
        p for p in Path(folder).iterdir() if p.suffix in SCENARIO_SUFFIXES and p.name != PACK_FILE and p.is_file()
    )


def load_pack(folder: Path | str) -> Pack:
    """Load a pack folder; raises on the first bad file. Scenario ids must be unique."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ScenarioError("not a pack folder", file=str(folder), hint="give a folder containing pack.yaml")
    manifest = load_manifest(folder)
    templates = _pack_templates(folder, manifest)
    scenarios: list[Scenario] = []
    seen: dict[str, Path] = {}
    for path in scenario_files(folder):
        if templates is not None and manifest.prompts is not None and path.resolve() == (folder / manifest.prompts).resolve():
            continue  # the pack's templates file, not a scenario
        sc = load_scenario(path, pack=manifest.name)
        if templates is not None:
            sc = sc.model_copy(update={"prompts": templates})
        if sc.id in seen:
            raise ScenarioError(f"duplicate id '{sc.id}' (also in {seen[sc.id].name})", file=str(path), field="id")
        seen[sc.id] = path
        scenarios.append(sc)
    return Pack(manifest=manifest, path=folder, scenarios=scenarios)


def validate_path(path: Path | str) -> list[ScenarioError]:
    """All problems in a pack folder or a single scenario file (empty list = valid)."""
    path = Path(path)
    errors: list[ScenarioError] = []
    if path.is_file():
        try:
            load_scenario(path)
        except ScenarioError as exc:
            errors.extend(_all_problems(exc))
        return errors
    if not path.is_dir():
        return [ScenarioError("no such file or folder", file=str(path))]
    name = None
    templates_file: Path | None = None
    try:
        manifest = load_manifest(path)
        name = manifest.name
        if manifest.prompts is not None:
            templates_file = (path / manifest.prompts).resolve()
            _pack_templates(path, manifest)
    except ScenarioError as exc:
        errors.extend(_all_problems(exc))
    except PromptTemplateError as exc:
        errors.append(ScenarioError(exc.message, file=str(templates_file), field="prompts"))
    seen: dict[str, Path] = {}
    for f in scenario_files(path):
        if templates_file is not None and f.resolve() == templates_file:
            continue  # the pack's prompt templates
        try:
            sc = load_scenario(f, pack=name)
        except ScenarioError as exc:
            errors.extend(_all_problems(exc))
            continue
        if sc.id in seen:
            errors.append(ScenarioError(f"duplicate id '{sc.id}' (also in {seen[sc.id].name})", file=str(f), field="id"))
        seen[sc.id] = f
    return errors
