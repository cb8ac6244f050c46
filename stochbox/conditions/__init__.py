"""Experiment conditions: what a model is told and how it is asked.

Public surface:

* prompt templates (:mod:`.templates`): :class:`PromptTemplates`, every text
  sent to a model as ``str.format`` templates with checked fields, the
  built-in set ``default_prompts.yaml``, :func:`load_prompt_templates`;
* conditions (:mod:`.spec`): :class:`Condition` (prompts, structured output,
  model options; part of the run config), :class:`ResolvedCondition` (what an
  episode runs with), arm labels ``MODE@CONDITION`` and the parsing of
  ``--condition`` / ``--model-option``.

May import :mod:`stochbox.errors` only; agents, scenarios, the run and the
analysis import it.
"""

from stochbox.conditions.templates import (
    DEFAULT_FILE,
    PromptTemplateError,
    PromptTemplates,
    check_template,
    default_templates,
    default_templates_path,
    load_prompt_templates,
    read_yaml_file,
    template_fields,
    templates_from_mapping,
)
from stochbox.conditions.spec import (
    CONDITION_NAME,
    RESERVED_OPTIONS,
    StructuredOutputChoice,
    Condition,
    ModelOptionError,
    ResolvedCondition,
    arm_mode,
    check_option_key,
    effective_conditions,
    load_condition,
    option_error,
    parse_condition,
    parse_model_option,
    parse_model_options,
    rejected_option,
    run_conditions,
    split_arm_mode,
)

__all__ = [
    "CONDITION_NAME",
    "DEFAULT_FILE",
    "RESERVED_OPTIONS",
    "StructuredOutputChoice",
    "Condition",
    "ModelOptionError",
    "PromptTemplateError",
    "PromptTemplates",
    "ResolvedCondition",
    "arm_mode",
    "check_option_key",
    "check_template",
    "default_templates",
    "default_templates_path",
    "effective_conditions",
    "load_condition",
    "load_prompt_templates",
    "option_error",
    "parse_condition",
    "parse_model_option",
    "parse_model_options",
    "read_yaml_file",
    "rejected_option",
    "run_conditions",
    "split_arm_mode",
    "template_fields",
    "templates_from_mapping",
]
