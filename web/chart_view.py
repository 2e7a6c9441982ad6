"""The procedure diagram, drawn from the chart's own states and transitions (no JavaScript)."""

from dataclasses import dataclass

from procedures.chart import EVENT_LABELS, STATE_LABELS, VacancyChart


@dataclass(frozen=True)
class Step:
    """One state of the chart with where its events lead."""

    state: str
    label: str
    status: str  # current, done, todo
    exits: list[tuple[str, str]]  # (event label, target state label)


def chart_steps(current: str, visited: set[str]) -> list[Step]:
    """Every state in chart order; ``explain`` (which never moves) is left out of the arrows."""
    steps = []
    for state in VacancyChart.states:
        exits: dict[tuple[str, str], None] = {}
        for transition in state.transitions:
            target = transition.target.id if transition.target else state.id
            for event in transition.events:
                if event.id == "explain":
                    continue
                label = EVENT_LABELS[event.id]
                exits[
                    (
                        label,
                        "opnieuw (nieuwe ronde)" if target == state.id else STATE_LABELS[target],
                    )
                ] = None
        status = "current" if state.id == current else "done" if state.id in visited else "todo"
        steps.append(Step(state.id, STATE_LABELS[state.id], status, list(exits)))
    return steps
