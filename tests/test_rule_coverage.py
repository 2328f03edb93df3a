"""Every clinical rule CR-1..CR-30 has tests named after it in the pure package and through the API.

The names are the map a reviewer walks from a rule to its tests (shared/design/clinical-rules.md): a rule
whose tests were dropped or renamed fails here.
"""

import ast
import re
from pathlib import Path

import pytest

TESTS = Path(__file__).parent
RULES = range(1, 31)


def _test_names(*folders: str) -> list[str]:
    names = []
    for folder in folders:
        for path in (TESTS / folder).glob("test_*.py"):
            tree = ast.parse(path.read_text())
            names += [
                node.name
                for node in ast.walk(tree)
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test_")
            ]
    return names


def _untested(names: list[str]) -> list[str]:
    return [f"CR-{n}" for n in RULES if not any(re.search(rf"(?:^|_)cr{n}_", name) for name in names)]


@pytest.mark.parametrize(("where", "folders"), [("pure", ("clinical",)), ("api", ("api", "webhooks"))])
def test_every_rule_has_named_tests(where: str, folders: tuple[str, ...]) -> None:
    assert _untested(_test_names(*folders)) == [], f"rules without {where} tests"


def test_rule_names_do_not_match_longer_ids() -> None:
    assert _untested(["test_cr12_x", "test_cr30_y"]) == [f"CR-{n}" for n in RULES if n not in (12, 30)]
