"""Run once, with json-logic-qubit 0.9.1 (the engine before datalogic-py) importable, to
record what every shipped rule decided on a grid of answers: qubit_results.json, which
tests/test_rules_engine.py replays on the current engine.

    pip install --target /tmp/qubit json-logic-qubit==0.9.1
    PYTHONPATH=/tmp/qubit python tests/data/jsonlogic/record_qubit_results.py

The answers are what services.rules.logic.facts() gives a rule: numbers as floats or None,
dates as ISO text, choices as text, several choices as a list, register fields as imported,
and a question left out of the answers (MISSING).
"""

import itertools
import json
from pathlib import Path

from json_logic import jsonLogic

HERE = Path(__file__).parent
MISSING = "__missing__"
ANSWERS = {
    "floors": [0.0, 1.0, 2.0, 2.5, 3.0, 4.0, 5.0, 9.0, 10.0, 11.0, 29.0, 30.0, 31.0, None,
               MISSING],
    "heritage": ["yes", "no", "да", "нет", "", None, MISSING],
    "works": [[], ["Снос"], ["Ремонт"], ["Снос", "Ремонт"], None, MISSING],
    "start": ["2026-03-30", "2026-03-31", "2026-04-01", "2025-12-31", "", None, MISSING],
    "channel": ["online", "office", "phone", "post"],
    "object_name": ["Гараж", "Гаражный бокс", "Жилой дом", "", None, MISSING],
    "purpose": ["Ремонт", "ремонт", "Другое", "", None, MISSING],
    "registers.large_families.found": [True, False],
    "registers.large_families.children": [0, 2, 3, 4, 5, 3.0, None, MISSING],
}


def variables(node):
    if isinstance(node, list):
        return [name for item in node for name in variables(item)]
    if isinstance(node, dict):
        names = []
        for operator, args in node.items():
            names += [args[0] if isinstance(args, list) else args] if operator == "var" \
                else variables(args)
        return names
    return []


def answer_sets(condition):
    names = list(dict.fromkeys(variables(condition)))
    for values in itertools.product(*(ANSWERS[name] for name in names)):
        data = {}
        for name, value in zip(names, values, strict=True):
            *parents, last = name.split(".")
            target = data
            for parent in parents:
                target = target.setdefault(parent, {})
            if value != MISSING:
                target[last] = value
        yield data


def decides(condition, data):
    try:
        return bool(jsonLogic(condition, data))
    except (TypeError, ValueError, ZeroDivisionError, KeyError, AttributeError):
        return None  # services.rules.logic.first_match: the rule decided nothing


def main():
    shipped = json.loads((HERE / "shipped_rules.json").read_text())
    results = [{"when": rule["when"], "data": data, "decides": decides(rule["when"], data)}
               for rule in shipped for data in answer_sets(rule["when"])]
    (HERE / "qubit_results.json").write_text(
        json.dumps(results, ensure_ascii=False, indent=0) + "\n")


if __name__ == "__main__":
    main()
