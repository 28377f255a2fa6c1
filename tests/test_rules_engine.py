"""The JSON Logic engine behind the rules (services/rules/engine.py): the official JSON Logic
tests pass, and every rule dgbox ships decides as it did under json-logic-qubit, the engine
it replaced (its results recorded once: tests/data/jsonlogic/README.md)."""

import json
import re
from pathlib import Path

import pytest

from demo.forms import LOOKUPS
from services.rules import engine
from tests.factories import RULES as FACTORY_RULES

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data" / "jsonlogic"
OFFICIAL = [case for case in json.loads((DATA / "official_tests.json").read_text())
            if isinstance(case, list)]
RECORDED = json.loads((DATA / "qubit_results.json").read_text())
SHIPPED = [rule["when"] for rule in json.loads((DATA / "shipped_rules.json").read_text())]

#: Where the new engine is right and json-logic-qubit was not: it compared the answer 3.0 with
#: the text "3" as the texts "3.0" and "3", so "at most '3' floors" refused three floors.
CORRECTED = [({"<=": [{"var": "floors"}, "3"]}, {"floors": 3.0})]


@pytest.mark.parametrize(("condition", "data", "expected"), OFFICIAL,
                         ids=[json.dumps(case[0])[:60] for case in OFFICIAL])
def test_the_official_json_logic_tests_pass(condition, data, expected):
    result = engine.evaluate(condition, data)
    assert result == expected
    assert isinstance(result, bool) == isinstance(expected, bool)


def test_every_shipped_rule_decides_as_it_did_under_the_old_engine():
    changed = []
    for case in RECORDED:
        try:
            decides = engine.holds(case["when"], case["data"])
        except engine.RuleError:
            decides = None
        if bool(decides) != bool(case["decides"]):
            changed.append((case["when"], case["data"]))
    assert changed == CORRECTED
    assert len(RECORDED) > 400


def test_the_recorded_rules_include_the_demo_docs_and_factory_rules():
    docs = (ROOT / "docs" / "rules-and-registers.md").read_text()
    documented = [rule["when"] for block in re.findall(r"```json\n(.*?)```", docs, re.S)
                  for rule in json.loads(block) if isinstance(rule, dict) and "when" in rule]
    demo = [rule["when"] for service in LOOKUPS.values() for rule in service["rules"]]
    factories = [rule["when"] for rule in FACTORY_RULES]
    assert documented and demo and factories
    for when in documented + demo + factories:
        assert when in SHIPPED


def test_an_unanswered_question_is_not_zero_and_a_word_is_not_an_error():
    assert not engine.holds({"<=": [{"var": "floors"}, 3]}, {"floors": None})
    assert not engine.holds({"<=": [{"var": "floors"}, 3]}, {})
    with pytest.raises(engine.RuleError):  # "" is no number: the rule decides nothing
        engine.holds({"<": [{"var": "income"}, 5]}, {"income": ""})
    assert engine.holds({"!=": [{"var": "floors"}, "three"]}, {"floors": 3.0})
    assert engine.holds({"in": ["Гараж", {"var": "object_name"}]}, {"object_name": "Гараж №2"})


def test_a_rule_that_would_work_without_end_decides_nothing():
    with pytest.raises(engine.RuleError):
        engine.holds({"some": [{"var": "items"}, {"==": [{"var": ""}, -1]}]},
                     {"items": list(range(engine.OPERATIONS_BUDGET * 2))})


def test_a_division_by_zero_decides_nothing_as_before():
    with pytest.raises(engine.RuleError):
        engine.holds({">": [{"/": [{"var": "income"}, {"var": "members"}]}, 3]},
                      {"income": 10.0, "members": 0.0})


def test_an_operator_outside_json_logic_is_refused():
    with pytest.raises(engine.RuleError):
        engine.evaluate({"upper": "abc"}, {})
