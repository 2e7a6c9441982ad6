"""How a vacancy moves: the state chart, the policy, domain errors and the engine."""
