"""Model strings: what resolves, and one-line errors for what does not."""

from __future__ import annotations

import pytest

from stochbox.agents.base import AgentOptions
from stochbox.agents.llm import make_llm_agent
from stochbox.errors import ModelSpecError


@pytest.mark.parametrize(
    "spec, options, message",
    [
        ("nosuchprovider:x", AgentOptions(), "cannot create model 'nosuchprovider:x'"),
        ("openai:m", AgentOptions(api_key_env="STOCHBOX_TEST_NO_SUCH_KEY"), "STOCHBOX_TEST_NO_SUCH_KEY"),
        ("scripted:", AgentOptions(), "cannot resolve model"),
        ("openai:m", AgentOptions(tool_protocol="xml"), "unknown tool protocol 'xml'"),
    ],
)
def test_bad_specs_are_one_line_model_spec_errors(spec, options, message):
    with pytest.raises(ModelSpecError, match=message) as err:
        make_llm_agent(spec, options)
    assert "\n" not in str(err.value)


def test_openai_compatible_server_spec_needs_no_key(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    agent = make_llm_agent("openai:some-model", AgentOptions(base_url="http://127.0.0.1:9/v1"))
    assert agent.describe()["provider"] == "openai"
    assert agent.tool_protocol == "functions"  # ChatOpenAI implements bind_tools


def test_local_spec_errors():
    pytest.importorskip("llama_cpp")
    with pytest.raises(ModelSpecError, match="unknown local model 'gpt5'"):
        make_llm_agent("local:gpt5")
    with pytest.raises(ModelSpecError, match="not found"):
        make_llm_agent("local:/nonexistent/model.gguf")
