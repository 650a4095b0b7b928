"""One `transitions` machine per flow version, shared by every conversation.

States are node ids; the trigger for a choice is `choose_<choice id>` (`choose_continue` on
an information step). A conditional `next` becomes several transitions for the same
trigger, tried in order with the answers passed as event data. No model object is kept per
conversation: a step sets the shared cursor to the stored node, fires the trigger and reads
the new state. Steps are synchronous, so asyncio tasks never interleave inside one.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from transitions import EventData, Machine, Transition

from .model import COMPANY, Condition, Flow

if TYPE_CHECKING:
    from transitions.core import TransitionConfigDict


class _StateOnlyTransition(Transition):
    """A transition that only moves the state (transitions' extension point for this is
    `Machine.transition_cls`). What it skips of `Transition._change_state`: leaving the
    source state and entering the destination, that is their `on_exit` / `on_enter`
    callbacks and their logging. Flow nodes have no callbacks, so nothing is lost:
    tests/test_engine.py::test_shared_machine_moves_like_a_stock_transitions_machine
    walks every transition of the flow both ways and finds the same states."""

    def _change_state(self, event_data: EventData) -> None:
        assert self.dest is not None  # Transition.execute calls it only for a transition with a destination
        setattr(event_data.model, event_data.machine.model_attribute, self.dest)
        event_data.update(self.dest)


class _FlowMachine(Machine):
    transition_cls = _StateOnlyTransition


class _Cursor:
    """The single model object of a compiled machine."""
    state: str


def trigger_name(choice_id: str) -> str:
    return f"choose_{choice_id}"


def _guard(condition: Condition) -> Callable[[EventData], bool]:
    return lambda event: condition.holds(event.kwargs["answers"])


def transitions_of(flow: Flow) -> list[TransitionConfigDict]:
    """The flow's transitions in the form `transitions` takes (also used for drawing)."""
    out = []
    for node in flow.nodes.values():
        for choice_id, routes in node.options():
            for route in routes:
                entry: TransitionConfigDict = {"trigger": trigger_name(choice_id), "source": node.id, "dest": route.target}
                if not route.condition.always:
                    entry["conditions"] = [_guard(route.condition)]
                out.append(entry)
    return out


class FlowMachine:
    """Compiled once per flow version; `step()` is the only way progress moves forward."""

    def __init__(self, flow: Flow):
        self.flow = flow
        self._cursor = _Cursor()
        self.machine = _FlowMachine(model=self._cursor, states=list(flow.nodes), initial=flow.start,
                               transitions=transitions_of(flow), auto_transitions=False,
                               send_event=True, ignore_invalid_triggers=True)

    def step(self, node: str, choice_id: str, answers: dict[str, str]) -> str | None:
        """The node reached from `node` by `choice_id` given `answers` (including this one). A
        company question takes any company's id (its one trigger: `choose_company`)."""
        if self.flow.nodes[node].kind == COMPANY:
            choice_id = COMPANY
        event = self.machine.events.get(trigger_name(choice_id))
        if event is None:
            return None
        self._cursor.state = node  # what Machine.set_state does, without its look-ups
        moved = event.trigger(self._cursor, answers=answers)
        return self._cursor.state if moved else None
