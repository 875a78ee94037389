"""JUnit case ids for Java: `pkg.Class$Nested#method` plus the invocation suffix, what the re-run selects.

The samples are real reports of one test class with every name shape (plain, @DisplayName, @ParameterizedTest
over ints, CSV rows, objects, arrays and a generic List, @RepeatedTest, @TestFactory, @Nested two deep) and
of JUnit 4 classes (plain, Parameterized with a name pattern): Maven Surefire 2.22.3 (Debian's) and the JUnit
Platform console launcher 1.9.1 (Jupiter and Vintage engines).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from sigma_exec.models import CaseOutcome
from sigma_exec.reports import parse_test_report
from sigma_exec.reports.junit import case_id

DATA = Path(__file__).parents[1] / "data" / "reports"


def _ids(name: str) -> dict[str, CaseOutcome]:
    report = parse_test_report("junit", (DATA / name).read_bytes())
    return {case.id: case.outcome for case in report.cases}


def test_console_launcher_ids_carry_fully_qualified_parameter_types_and_the_invocation_index() -> None:
    ids = _ids("junit-platform-shapes-TEST-junit-jupiter.xml")
    assert set(ids) == {
        "demo.ShapesTest#plain()",
        "demo.ShapesTest#pretty()",  # @DisplayName("a pretty name"): the method, not the display name
        "demo.ShapesTest#ints(int)[1]",
        "demo.ShapesTest#ints(int)[2]",
        "demo.ShapesTest#csv(int, java.lang.String)[1]",  # the report says csv(int, String)[1]
        "demo.ShapesTest#csv(int, java.lang.String)[2]",
        "demo.ShapesTest#objects(java.lang.Object)[1]",
        "demo.ShapesTest#objects(java.lang.Object)[2]",
        "demo.ShapesTest#arrays(int[], java.lang.String[])[1]",  # the unique id says (%5BI, %5BLjava.lang.String;)
        "demo.ShapesTest#generic(java.util.List)[1]",
        "demo.ShapesTest#repeated()[1]",
        "demo.ShapesTest#repeated()[2]",
        "demo.ShapesTest#dynamic()[1]",
        "demo.ShapesTest#dynamic()[2]",
        "demo.ShapesTest$Inner#inside()",
        "demo.ShapesTest$Inner$Deeper#deepest()",
    }
    failing = {i for i, outcome in ids.items() if outcome is CaseOutcome.FAILED}
    assert failing == {"demo.ShapesTest#ints(int)[2]", "demo.ShapesTest#dynamic()[2]", "demo.ShapesTest$Inner#inside()"}


def test_console_launcher_vintage_ids_keep_junit4_parameterized_names() -> None:
    ids = _ids("junit-platform-shapes-TEST-junit-vintage.xml")
    assert ids == {
        "demo.OldTest#old": CaseOutcome.PASSED,
        "demo.OldParamsTest#check[0: n(1)]": CaseOutcome.PASSED,
        "demo.OldParamsTest#check[1: n(2)]": CaseOutcome.FAILED,
        "demo.OldParamsTest#checkOther[0: n(1)]": CaseOutcome.PASSED,
        "demo.OldParamsTest#checkOther[1: n(2)]": CaseOutcome.PASSED,
    }


def test_surefire_ids_are_its_own_names_with_the_class_binary_name() -> None:
    ids = _ids("junit-surefire-TEST-demo.ShapesTest.xml")
    assert {
        "demo.ShapesTest#plain",
        "demo.ShapesTest#ints{int}[2]",
        "demo.ShapesTest#csv{int, String}[1]",
        "demo.ShapesTest#repeated[2]",
        "demo.ShapesTest#dynamic[1]",
        "demo.ShapesTest$Inner#inside",
        "demo.ShapesTest$Inner$Deeper#deepest",
    } <= set(ids)
    assert len(ids) == 16
    assert _ids("junit-surefire-TEST-demo.OldParamsTest.xml")["demo.OldParamsTest#check[1: n{2}]"] is CaseOutcome.FAILED


@pytest.mark.parametrize(
    "sample",
    [
        "junit-platform-shapes-TEST-junit-jupiter.xml",
        "junit-platform-shapes-TEST-junit-vintage.xml",
        "junit-surefire-TEST-demo.ShapesTest.xml",
        "junit-surefire-TEST-demo.OldParamsTest.xml",
        "junit-surefire-TEST-demo.CalcTest.xml",
        "junit-platform-TEST-junit-jupiter.xml",
    ],
)
def test_java_ids_are_unique_in_a_report_and_the_same_on_every_parse(sample: str) -> None:
    data = (DATA / sample).read_bytes()
    first = [case.id for case in parse_test_report("junit", data).cases]
    assert len(set(first)) == len(first)
    assert [case.id for case in parse_test_report("junit", data).cases] == first


@pytest.mark.parametrize(
    ("name", "unique_id", "expected"),
    [
        ("adds", None, "demo.T#adds"),  # Surefire, JUnit 4
        ("adds()", None, "demo.T#adds()"),
        (
            "csv(int, String)[1]",
            "[engine:junit-jupiter]/[class:demo.T]/[test-template:csv(int, java.lang.String)]"
            "/[test-template-invocation:#1]",
            "demo.T#csv(int, java.lang.String)[1]",
        ),
        (
            "m(int[][], long[])",
            "[engine:junit-jupiter]/[class:demo.T]/[method:m(%5B%5BI, %5BJ)]",
            "demo.T#m(int[][], long[])",
        ),
        (
            "m(Thing[])",
            "[engine:junit-jupiter]/[class:demo.T]/[method:m(%5BLdemo.T$Thing;)]",
            "demo.T#m(demo.T$Thing[])",
        ),
        # The unique id names another method, or no Jupiter method at all: the report's name is kept.
        ("other(String)", "[engine:junit-jupiter]/[class:demo.T]/[method:m(java.lang.String)]", "demo.T#other(String)"),
        ("old", "[engine:junit-vintage]/[runner:demo.T]/[test:old(demo.T)]", "demo.T#old"),
        ("m(String)", "not a unique id", "demo.T#m(String)"),
    ],
)
def test_java_case_id_takes_parameter_types_from_the_launcher_unique_id(
    name: str, unique_id: str | None, expected: str
) -> None:
    assert case_id(None, "demo.T", name, unique_id=unique_id) == expected


def test_the_python_branch_and_classless_cases_are_unchanged() -> None:
    assert (
        case_id("tests/test_x.py", "tests.test_x.TestC", "test_a[1]", unique_id="x")
        == "tests/test_x.py::TestC::test_a[1]"
    )
    assert case_id(None, "", "lonely()") == "lonely()"


@pytest.mark.parametrize(
    "system_out",
    [
        "unique-id: " + "/[method:" * 50_000,
        "unique-id: " + "/[method:m(" * 50_000 + ")",
        "unique-id: " + "/[test-template:" + "a" * 200_000,
        "\n" * 100_000 + "unique-id: /[method:m(java.lang.String)]",
    ],
    ids=["open-segments", "open-parens", "long-name", "late-line"],
)
def test_hostile_system_out_is_read_in_linear_time(system_out: str) -> None:
    report = (
        '<testsuite name="s"><testcase classname="demo.T" name="m(String)">'
        f"<system-out><![CDATA[{system_out}]]></system-out></testcase></testsuite>"
    ).encode()
    started = time.monotonic()
    (case,) = parse_test_report("junit", report).cases
    assert time.monotonic() - started < 1.0
    assert case.id == "demo.T#m(String)"  # nothing usable within the scanned prefix
