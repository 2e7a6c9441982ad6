"""A seeded, realistic simulation of vacancy procedures, as import events.

Used by ``idflow demo`` and by the benchmarks' workload generator. It produces the same event
format as an import file; the engine decides everything else.
"""

import random
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from typing import Any

from procedures.policy import AMSTERDAM, Policy

TITLES = (
    "Teamleider",
    "Senior beleidsadviseur",
    "Programmamanager",
    "Strategisch adviseur",
    "Afdelingsmanager",
    "Projectleider",
    "Enterprise architect",
    "Concerncontroller",
    "Gebiedsmanager",
    "Senior jurist",
    "Lead data scientist",
    "Directeur",
)


class Simulator:
    """Generates every event of ``per_year`` vacancies per directorate over a period."""

    def __init__(self, policy: Policy, directorates: list[str], seed: int = 2025) -> None:
        self.policy, self.directorates, self.seed = policy, sorted(directorates), seed
        self.rng = random.Random(seed)

    def events(self, start: date, end: datetime, per_year: float = 12) -> Iterator[dict[str, Any]]:
        """All events up to ``end`` of the procedures opened from ``start`` on.

        Every directorate's quarter, and every vacancy in it, has its own random stream: a
        later ``end`` only adds events, so a re-run (``idflow demo`` next month) never gives
        an event id other content.
        """
        last_day = end.astimezone(AMSTERDAM).date()
        for directorate in self.directorates:
            for first, last in _quarters(start, last_day):
                quarter = f"{first.year}Q{(first.month - 1) // 3 + 1}"
                key = f"{self.seed}/{directorate}/{quarter}"
                count = max(0, round(random.Random(key).gauss(per_year / 4, 1)))
                for number in range(1, count + 1):
                    self.rng = random.Random(f"{key}/{number}")
                    opened = first + timedelta(days=self.rng.randrange((last - first).days + 1))
                    if not start <= opened <= last_day:
                        continue
                    vacancy = f"VAC-{quarter}-{directorate}-{number:02d}"
                    events = self._procedure(vacancy, directorate, opened)
                    yield from (e for e in events if datetime.fromisoformat(e["at"]) <= end)

    def _procedure(self, vacancy: str, directorate: str, opened: date) -> list[dict[str, Any]]:
        rng, clock = self.rng, _Clock(self.rng, opened)
        actor = f"recruiter-{rng.randint(1, 60):02d}"
        out: list[dict[str, Any]] = []

        def emit(
            event: str, data: dict[str, Any] | None = None, at: datetime | None = None
        ) -> None:
            moment = at or clock.now
            out.append(
                {
                    "id": f"demo-{vacancy}-{len(out) + 1:02d}",
                    "vacancy": vacancy,
                    "event": event,
                    "at": moment.isoformat(),
                    "actor": actor,
                    "data": data or {},
                }
            )

        emit(
            "open",
            {
                "directorate": directorate,
                "scale": rng.choice([12, 12, 13, 13, 14, 15]),
                "title": rng.choice(TITLES),
                "kind": rng.choice(["internal", "external"]),
            },
        )
        late: list[tuple[str, datetime]] = []
        steps = (
            self._text,
            self._biws,
            self._shortlist,
            self._selection,
            self._onboarding,
            self._exit,
        )
        for step in steps:
            if not step(clock, emit, late):
                break
        for step_name, at in late:
            emit(
                "explain",
                {
                    "step": step_name,
                    "explanation": "Toelichting achteraf: " + rng.choice(EXPLANATIONS),
                },
                at=at,
            )
        out.sort(key=lambda e: e["at"])
        return out

    def _deviation(self, p_explained: float) -> dict[str, Any]:
        if self.rng.random() < p_explained:
            return {"explanation": self.rng.choice(EXPLANATIONS)}
        return {}

    def _finish(
        self,
        clock: "_Clock",
        emit: Any,
        late: list,
        step: str,
        met: str,
        deviate: str,
        p_met: float,
        data: dict[str, Any] | None = None,
    ) -> None:
        if self.rng.random() < p_met:
            emit(met, data)
            return
        deviation = self._deviation(0.6)
        emit(deviate, deviation)
        if not deviation and self.rng.random() < 0.45:
            late.append((step, clock.now + timedelta(days=self.rng.randint(10, 80))))

    def _cancelled(self, clock: "_Clock", emit: Any, p: float) -> bool:
        if self.rng.random() < p:
            emit("cancel", {"reason": "Vacature ingetrokken"})
            return True
        return False

    def _text(self, clock: "_Clock", emit: Any, late: list) -> bool:
        clock.wait(3, 40)
        if self._cancelled(clock, emit, 0.02):
            return False
        self._finish(clock, emit, late, "text", "approve_text", "deviate_text", 0.88)
        return True

    def _biws(self, clock: "_Clock", emit: Any, late: list) -> bool:
        clock.wait(14, 70)
        checklist = dict.fromkeys(self.policy.biws_checklist, True)
        self._finish(
            clock,
            emit,
            late,
            "biws",
            "complete_biws",
            "deviate_biws",
            0.8,
            {"checklist": checklist},
        )
        return True

    def _shortlist(self, clock: "_Clock", emit: Any, late: list) -> bool:
        rng = self.rng
        if rng.random() < 0.05:
            clock.wait(10, 40)
            self._finish(clock, emit, late, "rooney", "submit_shortlist", "deviate_shortlist", 0)
            return True
        for round_number in range(1, self.policy.rooney_max_rounds + 1):
            clock.wait(15, 65)
            if self._cancelled(clock, emit, 0.03):
                return False
            invited = rng.randint(4, 8)
            p_met = 0.62 if round_number == 1 else 0.5
            diverse = (
                invited // 2 + rng.randint(0, 2)
                if rng.random() < p_met
                else rng.randint(0, (invited - 1) // 2)
            )
            emit("submit_shortlist", {"invited": invited, "diverse": min(diverse, invited)})
            if self.policy.rooney_met(invited, min(diverse, invited)):
                break
        return True

    def _selection(self, clock: "_Clock", emit: Any, late: list) -> bool:
        clock.wait(20, 95)
        if self._cancelled(clock, emit, 0.07):
            return False
        start = (clock.now + timedelta(days=self.rng.randint(14, 60))).date()
        emit(
            "hire",
            {"employee": f"P{self.rng.randint(100000, 999999)}", "start_date": start.isoformat()},
        )
        clock.jump_to(start)
        return True

    def _onboarding(self, clock: "_Clock", emit: Any, late: list) -> bool:
        clock.wait(30, 100)
        self._finish(
            clock, emit, late, "onboarding", "complete_onboarding", "deviate_onboarding", 0.85
        )
        return self.rng.random() < 0.22

    def _exit(self, clock: "_Clock", emit: Any, late: list) -> bool:
        clock.wait(60, 400)
        leave = clock.now.date()
        emit(
            "register_departure",
            {
                "leave_date": leave.isoformat(),
                "destination": self.rng.choice(self.policy.destinations),
            },
        )
        clock.wait(3, 35)
        if self.rng.random() < 0.8:
            held = self.rng.random() < 0.85
            reasons = (
                self.rng.sample(self.policy.exit_reasons, self.rng.randint(1, 3)) if held else []
            )
            emit("record_exit_interview", {"held": held, "reasons": reasons})
        else:
            self._finish(
                clock,
                emit,
                late,
                "exit_interview",
                "record_exit_interview",
                "deviate_exit_interview",
                0,
            )
        return True


EXPLANATIONS = (
    "Spoedprocedure wegens bestuurlijke deadline.",
    "Krappe arbeidsmarkt; geen geschikte kandidaten in tweede ronde.",
    "Interne herplaatsing in het kader van reorganisatie.",
    "Commissie kon niet divers worden samengesteld door vakantieperiode.",
    "Kandidaat startte op afstand; onboarding in aangepaste vorm.",
)


def _quarters(start: date, last_day: date) -> Iterator[tuple[date, date]]:
    """(first day, last day) of every calendar quarter from ``start``'s to ``last_day``'s."""
    first = date(start.year, 3 * ((start.month - 1) // 3) + 1, 1)
    while first <= last_day:
        following = date(first.year + first.month // 10, (first.month + 2) % 12 + 1, 1)
        yield first, following - timedelta(days=1)
        first = following


class _Clock:
    """Business-hours time that only moves forward."""

    def __init__(self, rng: random.Random, day: date) -> None:
        self.rng = rng
        self.now = self._office_hours(day)

    def _office_hours(self, day: date) -> datetime:
        while day.weekday() >= 5:
            day += timedelta(days=1)
        moment = time(self.rng.randint(8, 16), self.rng.randrange(0, 60, 5))
        return datetime.combine(day, moment, tzinfo=AMSTERDAM)

    def wait(self, low: int, high: int) -> None:
        self.now = self._office_hours(self.now.date() + timedelta(days=self.rng.randint(low, high)))

    def jump_to(self, day: date) -> None:
        self.now = max(self.now, self._office_hours(day))
