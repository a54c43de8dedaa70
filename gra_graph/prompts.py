"""Prompt templates: plain text files in ``prompts/`` with ``{{name}}`` placeholders.

Rendering is a single pass of literal substitution. Values are never parsed again, so braces,
Jinja syntax (``{% ... %}``, ``{{ x }}``), ``$`` signs and quotes inside a seed come through
exactly as written; no template engine ever sees seed text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from gra_graph.config import GraphConfig, GraphConfigError, Stage
from gra_graph.inputs import MAX_PROMPT_FILE_BYTES, InputFileError, read_bounded_text

_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")

# The variables each stage's node supplies; a template may use any subset of them.
STAGE_VARIABLES: dict[Stage, frozenset[str]] = {
    Stage.ANNOTATE: frozenset({"instruction", "response"}),
    Stage.COMPOSE_KEYWORDS: frozenset({"domain", "examples"}),
    Stage.WRITE_INSTRUCTION: frozenset({"domain", "keywords", "summaries"}),
    Stage.WRITE_RESPONSE: frozenset({"domain", "instruction"}),
    Stage.CHECK_INSTRUCTION: frozenset({"domain", "instruction"}),
    Stage.SCORE_RESPONSE: frozenset({"domain", "instruction", "response"}),
    Stage.ADJUDICATE: frozenset({"domain", "instruction", "response", "feedback"}),
    Stage.REVISE: frozenset({"domain", "instruction", "response", "feedback"}),
    Stage.ENRICH: frozenset({"domain", "instruction", "response"}),
}


class PromptError(GraphConfigError):
    """A prompt file is missing or uses a placeholder its stage does not supply."""


@dataclass(frozen=True)
class PromptTemplate:
    """One stage's template text."""

    stage: Stage
    text: str
    source: Path

    @property
    def variables(self) -> frozenset[str]:
        return frozenset(_PLACEHOLDER.findall(self.text))

    def render(self, values: Mapping[str, object]) -> str:
        """Substitute ``{{name}}`` placeholders with ``str(values[name])``, literally.

        >>> t = PromptTemplate(Stage.WRITE_RESPONSE, "Task: {{instruction}}", Path("x"))
        >>> t.render({"instruction": "print('{{x}}') {% if %}"})
        "Task: print('{{x}}') {% if %}"
        """

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in values:
                raise KeyError(f"{self.source}: no value for placeholder '{name}'")
            return str(values[name])

        return _PLACEHOLDER.sub(substitute, self.text)


def load_prompts(config: GraphConfig) -> dict[Stage, PromptTemplate]:
    """Read and check every stage's prompt file.

    Raises:
        PromptError: a file is missing, unreadable, not a regular file or larger than
            ``MAX_PROMPT_FILE_BYTES``, or uses a placeholder its stage lacks.
    """
    templates: dict[Stage, PromptTemplate] = {}
    for stage in Stage:
        path = config.prompt_path(stage)
        try:  # a regular file of bounded size: a prompt path at /dev/zero must not read forever
            text = read_bounded_text(
                path, MAX_PROMPT_FILE_BYTES, "prompt file", "MAX_PROMPT_FILE_BYTES"
            )
        except InputFileError as exc:
            raise PromptError(f"prompts.{stage.value}: {exc}") from None
        template = PromptTemplate(stage, text.strip(), path)
        unknown = template.variables - STAGE_VARIABLES[stage]
        if unknown:
            raise PromptError(
                f"prompts.{stage.value}: {path.name} uses unknown placeholder(s) "
                f"{sorted(unknown)}; available: {sorted(STAGE_VARIABLES[stage])}"
            )
        templates[stage] = template
    return templates
