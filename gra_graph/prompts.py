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

from gra_graph.config import GraphConfig, GraphConfigError
from gra_graph.inputs import MAX_PROMPT_FILE_BYTES, InputFileError, read_bounded_text
from gra_graph.score_order import order_problems
from gra_graph.stages import STAGES, Stage

_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")

STAGE_VARIABLES: Mapping[Stage, frozenset[str]] = {
    stage: spec.variables for stage, spec in STAGES.items()
}
"""The variables each stage's node supplies (declared in :mod:`gra_graph.stages`)."""


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

    @property
    def fixed_text(self) -> tuple[str, ...]:
        """The template's own words: the text between its placeholders.

        >>> t = PromptTemplate(Stage.WRITE_RESPONSE, "Task: {{instruction}}. Go.", Path("x"))
        >>> t.fixed_text
        ('Task: ', '. Go.')
        """
        segments, start = [], 0
        for match in _PLACEHOLDER.finditer(self.text):
            segments.append(self.text[start : match.start()])
            start = match.end()
        return (*segments, self.text[start:])

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


def _scale_mismatch(config: GraphConfig, text: str) -> str | None:
    """Why the score prompt ``text`` asks for another scale than the graph reads, if it does:
    the grammar would force verdicts on a prompt asking for 0-10, or the reverse."""
    asks_verdicts = '"pass"' in text and '"fail"' in text
    if config.judging.score_scale == "pass_fail" and not asks_verdicts:
        return (
            'it must ask for "pass" or "fail" per dimension (prompts/score_response_verdicts.txt)'
        )
    if config.judging.score_scale == "0-10" and asks_verdicts:
        return "it asks for pass or fail; set judging.score_scale: pass_fail"
    return None


def load_prompts(config: GraphConfig) -> dict[Stage, PromptTemplate]:
    """Read and check every stage's prompt file.

    Raises:
        PromptError: a file is missing, unreadable, not a regular file or larger than
            ``MAX_PROMPT_FILE_BYTES``, uses a placeholder its stage lacks, or (scored stages)
            does not name one of the graph's score dimensions, or (``judging.score_order``
            other than fixed) cannot be asked in another order (:mod:`gra_graph.score_order`),
            or (score_response) asks for another scale than ``judging.score_scale``.
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
        if STAGES[stage].scored:
            missing = [d for d in config.score_dimensions if not re.search(rf"\b{d}\b", text)]
            if missing:
                raise PromptError(
                    f"prompts.{stage.value}: {path.name} does not describe the score "
                    f"dimension(s) {missing}; every one of score_dimensions needs a line saying "
                    "what it means and the JSON key to reply with"
                )
            if stage == Stage.SCORE_RESPONSE and (why := _scale_mismatch(config, text)):
                raise PromptError(
                    f"prompts.{stage.value}: {path.name} does not ask for the scale of "
                    f"judging.score_scale {config.judging.score_scale}: {why}"
                )
            problems = order_problems(text, config.score_dimensions)
            if config.judging.score_order != "fixed" and problems:
                raise PromptError(
                    f"prompts.{stage.value}: {path.name} cannot be asked in judging.score_order "
                    f"{config.judging.score_order}: {'; '.join(problems)}"
                )
        templates[stage] = template
    return templates
