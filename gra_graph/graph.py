"""The GRA peer-review loop as a LangGraph state machine; reads like the diagram in the README.

Edges out of ``decide`` and ``adjudicate`` are declared by those nodes' return types
(``Command[Literal[...]]``), so the drawing and the decision are the same code.

```
draw_roles -> compose_keywords -> write_instruction -> write_response
  [-> verify --veto--> END]   (only the domains the graph file verifies)
  -> check_instruction (one per reviewer) -> gather_checks --any fail--> END (rejected)
  -> score_response (one per reviewer) -> decide
       accept -> enrich -> END      conflict -> adjudicate -> enrich | END
                                    (adjudication: human) conflict -> human_adjudicate
                                    (model_then_human) adjudicate -> human_adjudicate
                                    human_adjudicate -> enrich | END
       reject, salvageable, rounds left -> revise [-> verify] -> score_response ...
       reject otherwise -> END
```
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Checkpointer

from gra_graph.context import GraContext
from gra_graph.nodes.adjudicate import adjudicate
from gra_graph.nodes.enrich import enrich
from gra_graph.nodes.generate import compose_keywords, draw_roles, write_instruction, write_response
from gra_graph.nodes.human_adjudicate import human_adjudicate
from gra_graph.nodes.review import check_instruction, decide, gather_checks, score_response
from gra_graph.nodes.revise import revise
from gra_graph.nodes.verify import verify
from gra_graph.routing import after_verify, fan_out, unless_decided, verify_or_fan_out
from gra_graph.state import GraState


def build_graph(
    checkpointer: Checkpointer = None,
    interrupt_before: Sequence[str] = (),
    *,
    context_schema: type[GraContext] = GraContext,
    input_schema: type[Any] | None = None,
) -> CompiledStateGraph:
    """Compile the GRA graph. Models come later, through ``context=GraContext(...)``.

    ``interrupt_before`` names nodes to pause at (LangGraph breakpoints): a thread stops there
    with its state checkpointed, and resuming the thread continues from that node.
    ``context_schema`` may be a subclass of :class:`GraContext` whose fields all have defaults
    (:mod:`gra_graph.studio`'s, so a server run that sends no context still gets one), and
    ``input_schema`` the keys a thread starts from (:class:`~gra_graph.state.ThreadInput`);
    by default the input is the whole state.

    Example:
        >>> graph = build_graph()
        >>> "adjudicate" in graph.get_graph().nodes
        True
    """
    g = StateGraph(GraState, context_schema=context_schema, input_schema=input_schema)
    g.add_node("draw_roles", draw_roles)
    g.add_node("compose_keywords", compose_keywords)
    g.add_node("write_instruction", write_instruction)
    g.add_node("write_response", write_response)
    g.add_node("check_instruction", check_instruction)
    g.add_node("gather_checks", gather_checks)
    g.add_node("score_response", score_response)
    g.add_node("decide", decide)
    g.add_node("adjudicate", adjudicate)
    g.add_node("human_adjudicate", human_adjudicate)  # a person, through interrupt()
    g.add_node("revise", revise)
    g.add_node("enrich", enrich)
    g.add_node("verify", verify)  # executable verifiers, for the domains the graph file names

    g.add_edge(START, "draw_roles")
    g.add_edge("draw_roles", "compose_keywords")
    g.add_conditional_edges(
        "compose_keywords", unless_decided("write_instruction"), ["write_instruction", END]
    )
    g.add_conditional_edges(
        "write_instruction", unless_decided("write_response"), ["write_response", END]
    )
    g.add_conditional_edges(
        "write_response",
        verify_or_fan_out("check_instruction"),
        ["verify", "check_instruction", "decide", END],
    )
    g.add_conditional_edges(
        "verify", after_verify, ["check_instruction", "score_response", "decide", END]
    )
    g.add_edge("check_instruction", "gather_checks")
    g.add_conditional_edges("gather_checks", fan_out("score_response"), ["score_response", END])
    g.add_edge("score_response", "decide")
    # decide -> adjudicate | human_adjudicate | revise | enrich | END, adjudicate -> enrich |
    # human_adjudicate | END, human_adjudicate -> enrich | END: the nodes return a Command
    # whose type names those destinations
    g.add_conditional_edges(
        "revise", verify_or_fan_out("score_response"), ["verify", "score_response", "decide", END]
    )
    g.add_edge("enrich", END)
    return g.compile(
        checkpointer=checkpointer, interrupt_before=list(interrupt_before) or None, name="gra"
    )
