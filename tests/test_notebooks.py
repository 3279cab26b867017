"""The committed notebooks (lessons and solutions) are what a top-to-bottom run produced, and are tagged for nbval.

nbval re-runs them (``make test``); these checks catch a notebook that was edited
and saved without being re-executed, or that never had its outputs stored. The
lessons' "Your turn" exercises are stored untouched ("not implemented yet") and
their solutions, kept apart in ``notebooks/solutions/``, are stored passing their checks.
"""

import json
import re
from pathlib import Path

import pytest

from helpers.exercises import EXERCISES

ROOT = Path(__file__).resolve().parent.parent
LESSONS = sorted((ROOT / "notebooks").glob("*.ipynb"))
SOLUTIONS = sorted((ROOT / "notebooks" / "solutions").glob("*.ipynb"))
NOTEBOOKS = LESSONS + SOLUTIONS
CHECK = re.compile(r'^check\("(\w+)", (\w+)\)$')


def code_cells(path):
    cells = json.loads(path.read_text())["cells"]
    return [c for c in cells if c["cell_type"] == "code" and "".join(c["source"]).strip()]


def tags(cell):
    return cell.get("metadata", {}).get("tags", [])


def test_there_are_notebooks():
    assert any(p.name.startswith("00_") for p in NOTEBOOKS)


def checked_exercises(path):
    """``(name, function, stored output)`` of every ``check(name, function)`` cell, in order."""
    found = []
    for cell in code_cells(path):
        match = CHECK.match("".join(cell["source"]).strip())
        if match:
            assert "nbval-check-output" in tags(cell), f"{path.name}: {match.group(0)} is not checked by nbval"
            shown = "".join("".join(o.get("data", {}).get("text/plain", "")) for o in cell["outputs"])
            found.append((match.group(1), match.group(2), shown))
    return found


@pytest.mark.parametrize("path", [p for p in LESSONS if not p.name.startswith("00_")], ids=lambda p: p.name)
def test_every_lesson_has_exercises_stored_untouched(path):
    cells = json.loads(path.read_text())["cells"]
    turns = [i for i, c in enumerate(cells) if c["cell_type"] == "markdown"
             and re.search(r"^#+ Your turn", "".join(c["source"]), flags=re.M)]
    assert 2 <= len(turns) <= 3, f"{path.name}: {len(turns)} 'Your turn' exercises"
    for i in turns:  # the stub, then its check, right after the exercise's text
        stub, checked = ("".join(c["source"]) for c in cells[i + 1:i + 3])
        assert "raise NotImplementedError" in stub and CHECK.match(checked.strip()), f"{path.name}: cell {i}"
        assert CHECK.match(checked.strip()).group(2) in stub, f"{path.name}: cell {i} checks another function"
    found = checked_exercises(path)
    assert len(found) == len(turns)
    for name, function, shown in found:
        assert shown == f"{name}: not implemented yet. Write the body of {EXERCISES[name].signature}, then run this " \
                        f"cell again.", f"{path.name}: {shown}"


def test_every_exercise_is_in_one_lesson_and_solved_apart():
    in_lessons = [name for path in LESSONS for name, _, _ in checked_exercises(path)]
    assert sorted(in_lessons) == sorted(EXERCISES)
    assert [p.name for p in SOLUTIONS] == [p.stem + "_solutions.ipynb" for p in LESSONS]  # one per lesson, 00 too
    for lesson, solution in zip(LESSONS, SOLUTIONS):
        solved = checked_exercises(solution)
        assert [name for name, _, _ in solved] == [name for name, _, _ in checked_exercises(lesson)]
        for name, _, shown in solved:
            assert shown.startswith(f"{name}: correct ("), f"{solution.name}: {shown}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_executed_top_to_bottom(path):
    counts = [cell["execution_count"] for cell in code_cells(path)]
    assert None not in counts, f"{path.name}: {counts.count(None)} code cells were never executed"
    assert counts == list(range(1, len(counts) + 1)), f"{path.name}: execution counts {counts} are not 1..n"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_stored_errors(path):
    for cell in code_cells(path):
        for output in cell.get("outputs", []):
            assert output["output_type"] != "error", f"{path.name}: stored error {output.get('ename')}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_nbval_tags(path):
    cells = code_cells(path)
    assert any("nbval-check-output" in tags(c) for c in cells), f"{path.name}: no cell checks its output"
    for cell in cells:
        source = "".join(cell["source"])
        if "widgets." in source and "import" not in source:
            assert "nbval-ignore-output" in tags(cell), f"{path.name}: widget cell without nbval-ignore-output"
        if "nbval-check-output" in tags(cell):
            assert cell["outputs"], f"{path.name}: a checked cell has no stored output"


DECIMAL = re.compile(r"(?<![\w.])\d+\.\d+(?![\w.]*\d)")


def quoted_numbers(path):
    """``(cell index, forms, context)`` for every decimal number in the lesson's prose, maths and links left out.

    ``forms`` is the number as written, and for a percentage also the share it stands for (``2.4 %``: ``0.024``).

    The references at the end cite papers (years, arXiv numbers) and are left out too.
    """
    found = []
    for index, cell in enumerate(json.loads(path.read_text())["cells"]):
        if cell["cell_type"] != "markdown":
            continue
        text = "".join(cell["source"]).split("## References")[0]
        text = re.sub(r"\$\$.*?\$\$|\$[^$]*\$|`[^`]*`|\]\([^)]*\)", " ", text, flags=re.S)
        for m in DECIMAL.finditer(text):
            forms = [m.group()]
            if re.match(r"\s?%", text[m.end():m.end() + 2]):  # 99.8 % may be printed as 99.8% or as 0.998
                forms.append(f"{float(forms[0]) / 100:.{len(forms[0].split('.')[1]) + 2}f}")
            found.append((index, forms, text[max(0, m.start() - 50):m.end() + 10].replace("\n", " ")))
    return found


def printed_numbers(path):
    """Every decimal number in the code cells: their text outputs and their sources (parameters, cited values)."""
    texts = []
    for cell in code_cells(path):
        texts.append("".join(cell["source"]))
        for output in cell.get("outputs", []):
            texts.append("".join(output.get("text", "")))
            texts += ["".join(value) for kind, value in output.get("data", {}).items() if kind.startswith("text/")]
    return DECIMAL.findall("\n".join(texts))


def matches(quoted, printed):
    """A quoted number matches a printed one that reads the same, or rounds to it at the quoted precision."""
    digits = len(quoted.split(".")[1])
    return any(p == quoted or (len(p.split(".")[1]) > digits and f"{float(p):.{digits}f}" == quoted) for p in printed)


def test_matches_reads_rounding_only_towards_fewer_digits():
    assert matches("0.56", ["0.556"]) and matches("0.862", ["0.862"]) and matches("6.6", ["6.62"])
    assert not matches("0.56", ["0.5"]) and not matches("0.862", ["0.86"]) and not matches("0.57", ["0.556"])


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_numbers_in_the_prose_are_printed_by_the_lesson(path):
    printed = set(printed_numbers(path))
    missing = [f"cell {index}: {forms[0]} in '...{context}...'" for index, forms, context in quoted_numbers(path)
               if not any(matches(form, printed) for form in forms)]
    assert not missing, f"{path.name}: numbers that no cell prints:\n" + "\n".join(missing)
