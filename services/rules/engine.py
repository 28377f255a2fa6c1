"""The JSON Logic engine behind the rules, kept behind two functions (`evaluate`, `holds`) so
the library can change without touching the rules, their builder or the cases.

The engine is datalogic-py (a Rust core, maintained, passing the official JSON Logic tests;
docs/dependencies.md says why it replaced json-logic-qubit). It is configured so that the
rules mean what they meant under json-logic-qubit, where JSON Logic leaves room or where
JavaScript's coercions would surprise an editor:

- an unanswered question (null) is not a number: `{"<=": [null, 3]}` is false, not 0 <= 3;
- an empty answer ("") is not zero either;
- comparing a number with a word is false, not an error.

tests/test_rules_engine.py replays every rule dgbox ships against the results
json-logic-qubit gave (recorded once, tests/data/jsonlogic/) and runs the official tests.
Only the core operators exist here (services.rules.logic.ALLOWED narrows them further), and
an evaluation may do a bounded amount of work, so no rule can keep a worker busy.
"""

import json
from typing import Any

from datalogic_py import DataLogicError, Engine

#: What one evaluation may do (nodes dispatched plus items walked): a rule over a form's
#: answers needs a few hundred at most.
OPERATIONS_BUDGET = 100_000

_ENGINE = Engine(families=[], config={
    "numeric_coercion": {"null_to_zero": False, "empty_string_to_zero": False},
    "loose_equality_errors": False,
    "ops_budget": OPERATIONS_BUDGET,
})


class RuleError(ValueError):
    """A condition could not be evaluated on this data (a value of an unexpected shape, or
    too much work): the rule decides nothing."""


def evaluate(condition: Any, data: Any) -> Any:
    """The value of a JSON Logic `condition` (parsed JSON) over `data` (parsed JSON)."""
    # The engine reads a str as JSON text; a bare string is a JSON Logic literal.
    rule = json.dumps(condition) if isinstance(condition, str) else condition
    try:
        return _ENGINE.eval(rule, data)
    except DataLogicError as exc:
        raise RuleError(str(exc)) from exc


def holds(condition: Any, data: Any) -> bool:
    """Whether `condition` is true of `data` (Python's truthiness, as rules always had)."""
    return bool(evaluate(condition, data))
