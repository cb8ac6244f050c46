"""Prompt templates (stochbox.conditions.templates, agents/prompts.py): the defaults are the shipped file,
render the prompts stochbox has always sent, and round-trip through ``prompts show-default``; which
templates an episode uses (condition > --prompts > pack > defaults); one-line errors."""

from __future__ import annotations

import json

import pytest

from stochbox.agents.base import AgentLimits, EpisodeContext
from stochbox.agents.prompts import native_system, templates_for, tool_system, user_prompt
from stochbox.conditions import ResolvedCondition
from stochbox.errors import ScenarioError
from stochbox.conditions.templates import (
    PromptTemplateError,
    default_templates,
    default_templates_path,
    load_prompt_templates,
)
from stochbox.results import Mode
from stochbox.scenarios import load_pack

from stochbox.testing.scenario_texts import COIN, UNIT, write_pack


@pytest.fixture
def coin(tmp_path):
    return load_pack(write_pack(tmp_path / "p", {"coin.yaml": COIN})).scenarios[0]


def test_the_defaults_render_the_prompts_stochbox_always_sent(coin):
    # pinned text (the templates file must reproduce it exactly; checked for all 227 built-in scenarios when it was introduced)
    assert native_system(coin, 1, structured=True) == (
        "You answer questions about random processes by producing a random outcome, as if you were the process itself. "
        "Do not describe the distribution and do not refuse: give one concrete outcome. "
        'Reply with a JSON object {"answer": ...} where the value is exactly one of the labels "heads", "tails".'
    )
    assert native_system(coin, 3, structured=False).endswith(
        "give one concrete outcome per requested sample. Your reply must end with a line `ANSWER: <value>` where the value is "
        'a JSON list of 3 independent samples, each exactly one of the labels "heads", "tails".'
    )
    assert user_prompt(coin, 1) == "Flip a fair coin. Answer heads or tails."
    assert user_prompt(coin, 2) == (
        "Flip a fair coin. Answer heads or tails.\n\nDo this 2 times independently and answer with a JSON list of 2 "
        'independent samples, each exactly one of the labels "heads", "tails".'
    )
    system = tool_system(coin, 1, AgentLimits(), ["- python: run code"], output_cap=4096)
    assert "at most 10 s; stdout and stderr are each cut after 4096 bytes" in system
    assert "do not set seeds yourself, a fixed seed would make every answer the same." in system
    assert "Tools:\n- python: run code\n- submit: ends the conversation" in system


def test_show_default_prints_the_shipped_file_and_it_loads_back_to_the_defaults(tmp_path, capsys):
    from stochbox.cli import main

    def cli(*argv: str) -> str:
        with pytest.raises(SystemExit) as done:
            main(list(argv))
        assert done.value.code in (0, None)
        return capsys.readouterr().out

    text = cli("prompts", "show-default")
    assert text == default_templates_path().read_text()
    copy = tmp_path / "copy.yaml"
    copy.write_text(text)
    loaded = load_prompt_templates(copy)
    assert loaded.texts == default_templates().texts and loaded.digest == default_templates().digest
    assert "changed from the defaults: none" in cli("prompts", "check", str(copy))
    assert cli("prompts", "path").strip() == str(default_templates_path())


def test_a_partial_file_keeps_the_defaults_and_its_digest_is_of_the_text(tmp_path):
    path = tmp_path / "terse.yaml"
    path.write_text("user: 'Q: {prompt}'\n")
    t = load_prompt_templates(path)
    assert t.name == "terse" and t.user == "Q: {prompt}" and t.native_system == default_templates().native_system
    assert t.digest != default_templates().digest
    renamed = tmp_path / "other.yaml"
    renamed.write_text("name: x\nuser: 'Q: {prompt}'\n")
    assert load_prompt_templates(renamed).digest == t.digest  # the name is a label, not part of the text
    assert t.render("user", prompt="hi") == "Q: hi"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("users: 'x'\n", "unknown field 'users'"),
        ("user: 7\n", "field 'user' must be text"),
        ("user: '{prompt} {n}'\n", "field 'user': unknown field {n}"),
        ("last_turn: '{prompt.upper}'\n", "field 'last_turn': field '{prompt.upper}' is not a plain name"),
        ("tool_system: 'no tools listed'\n", "field 'tool_system': required field {tool_lines} is missing"),
        ("user: '{prompt'\n", "field 'user'"),
        ("- a list\n", "expected a mapping"),
        ("user: [unclosed\n", "is not valid YAML"),
    ],
)
def test_bad_templates_files_are_one_line_errors_naming_file_and_field(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(PromptTemplateError) as info:
        load_prompt_templates(path)
    assert message in str(info.value) and str(path) in str(info.value) and "\n" not in str(info.value)


def test_a_literal_brace_is_written_doubled(tmp_path):
    path = tmp_path / "braces.yaml"
    path.write_text("native_answer_json: 'Reply {{\"{key}\": value}} for {answer}.'\n")
    assert load_prompt_templates(path).render("native_answer_json", key="answer", answer="x") == 'Reply {"answer": value} for x.'


def _ctx(scenario, condition=None) -> EpisodeContext:
    return EpisodeContext(run_id="r", episode_id="e", scenario=scenario, mode=Mode.native, n_samples=1, seed=1,
                          emit=lambda *a, **k: None, condition=condition)


def test_a_pack_ships_default_templates_and_conditions_override_them(tmp_path):
    folder = write_pack(tmp_path / "pack", {"unit.yaml": UNIT})
    (folder / "pack.yaml").write_text((folder / "pack.yaml").read_text() + "prompts: wording.yaml\n")
    (folder / "wording.yaml").write_text("name: pack-wording\nuser: 'Pack asks: {prompt}'\n")
    (sc,) = load_pack(folder).scenarios  # wording.yaml is the pack's templates, not a scenario
    assert sc.prompts is not None and sc.prompts.name == "pack-wording"
    assert user_prompt(sc, 1, templates=templates_for(_ctx(sc))).startswith("Pack asks: Draw one number")
    own = tmp_path / "own.yaml"
    own.write_text("user: 'Run asks: {prompt}'\n")
    condition = ResolvedCondition(name=None, prompts=load_prompt_templates(own))
    assert user_prompt(sc, 1, templates=templates_for(_ctx(sc, condition))).startswith("Run asks: ")
    bare = sc.model_copy(update={"prompts": None})
    assert templates_for(_ctx(bare, ResolvedCondition(name=None))) is default_templates()
    # the frozen scenario in run.json carries the pack's templates
    assert json.loads(sc.model_dump_json())["prompts"]["user"] == "Pack asks: {prompt}"


def test_pack_templates_mistakes_name_pack_yaml(tmp_path):
    folder = write_pack(tmp_path / "pack", {"unit.yaml": UNIT})
    manifest = folder / "pack.yaml"
    base = manifest.read_text()
    manifest.write_text(base + "prompts: nowhere.yaml\n")
    with pytest.raises(ScenarioError, match="nowhere.yaml' not found in the pack folder"):
        load_pack(folder)
    manifest.write_text(base + "prompts: ../outside.yaml\n")
    with pytest.raises(ScenarioError, match="must point inside the pack folder"):
        load_pack(folder)
    manifest.write_text(base + "prompts: wording.yaml\n")
    (folder / "wording.yaml").write_text("user: 'no prompt field'\n")
    with pytest.raises(PromptTemplateError, match="field 'user': required field {prompt} is missing"):
        load_pack(folder)
