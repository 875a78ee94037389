"""Transitions in every language: a project with a pre-existing failure, a change that fixes one test,
breaks another and adds a third (same-size edits), graded `no-regressions` through the in-process pipeline.

The expected ids are each framework's own (see README, Verdicts); the statuses were worked out by running
the projects' tests natively.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from sigma_exec import DockerExecutor, Settings
from sigma_exec.baselines import MemoryBaselineCache
from sigma_exec.pipeline import Proposal, run_pipeline


@dataclass
class Case:
    language: str
    files: dict[str, str]
    changes: dict[str, str]
    fixed: list[str]
    broken: list[str]
    still_failing: list[str]
    new: list[str]
    settings: dict[str, object] = field(default_factory=dict)


GO_CALC = (
    "package calc\n\nfunc Add(a, b int) int { return a + b }\n\nfunc Sub(a, b int) int { return a + b }\n\n"
    "func Mul(a, b int) int { return a * b }\n"
)
GO = Case(
    language="go",
    files={
        "go.mod": "module example.com/calc\n\ngo 1.19\n",
        "calc.go": GO_CALC,
        "calc_test.go": 'package calc\n\nimport "testing"\n\n'
        'func TestAdd(t *testing.T) { if Add(1, 2) != 3 { t.Fatal("add") } }\n\n'
        'func TestSub(t *testing.T) { if Sub(3, 1) != 2 { t.Fatal("sub") } }\n\n'
        'func TestMul(t *testing.T) { if Mul(2, 3) != 6 { t.Fatal("mul") } }\n\n'
        'func TestLegacy(t *testing.T) { t.Fatal("known to fail") }\n',
    },
    changes={
        "calc.go": GO_CALC.replace("a + b }\n\nfunc Mul", "a - b }\n\nfunc Mul").replace("a * b", "a + b"),
        "new_test.go": 'package calc\n\nimport "testing"\n\nfunc TestNew(t *testing.T) {}\n',
    },
    fixed=["example.com/calc::TestSub"],
    broken=["example.com/calc::TestMul"],
    still_failing=["example.com/calc::TestLegacy"],
    new=["example.com/calc::TestNew"],
)
RUBY_CALC = (
    "module Calc\n  def self.add(a, b) = a + b\n  def self.sub(a, b) = a + b\n  def self.mul(a, b) = a * b\nend\n"
)
RUBY_FIXED = (
    "module Calc\n  def self.add(a, b) = a + b\n  def self.sub(a, b) = a - b\n  def self.mul(a, b) = a + b\nend\n"
)
RSPEC = Case(
    language="ruby",
    files={
        "calc.rb": RUBY_CALC,
        "spec/calc_spec.rb": 'require_relative "../calc"\n\nRSpec.describe Calc do\n'
        '  it("adds") { expect(Calc.add(1, 2)).to eq(3) }\n'
        '  it("subtracts") { expect(Calc.sub(3, 1)).to eq(2) }\n'
        '  it("multiplies") { expect(Calc.mul(2, 3)).to eq(6) }\n'
        '  it("is legacy") { expect(1).to eq(2) }\nend\n',
    },
    changes={
        "calc.rb": RUBY_FIXED,
        "spec/new_spec.rb": 'RSpec.describe "new" do\n  it("works") { expect(1).to eq(1) }\nend\n',
    },
    fixed=["./spec/calc_spec.rb[1:2]"],
    broken=["./spec/calc_spec.rb[1:3]"],
    still_failing=["./spec/calc_spec.rb[1:4]"],
    new=["./spec/new_spec.rb[1:1]"],
)
MINITEST = Case(
    language="ruby",
    files={
        "lib/calc.rb": RUBY_CALC,
        "test/calc_test.rb": 'require "minitest/autorun"\nrequire "calc"\n\nclass CalcTest < Minitest::Test\n'
        "  def test_add = assert_equal(3, Calc.add(1, 2))\n"
        "  def test_sub = assert_equal(2, Calc.sub(3, 1))\n"
        "  def test_mul = assert_equal(6, Calc.mul(2, 3))\n"
        "  def test_legacy = assert_equal(1, 2)\nend\n",
    },
    changes={
        "lib/calc.rb": RUBY_FIXED,
        "test/new_test.rb": 'require "minitest/autorun"\n\nclass NewTest < Minitest::Test\n'
        "  def test_new = assert(true)\nend\n",
    },
    fixed=["CalcTest#test_sub"],
    broken=["CalcTest#test_mul"],
    still_failing=["CalcTest#test_legacy"],
    new=["NewTest#test_new"],
)
JAVA_CALC = (
    "package calc;\n\npublic class Calc {\n"
    "    public static int add(int a, int b) { return a + b; }\n"
    "    public static int sub(int a, int b) { return a + b; }\n"
    "    public static int mul(int a, int b) { return a * b; }\n}\n"
)
JUNIT5 = "import static org.junit.jupiter.api.Assertions.assertEquals;\n\nimport org.junit.jupiter.api.Test;\n\n"
JAVA = Case(
    language="java",
    files={
        "settings.gradle": "rootProject.name = 'calc'\n",
        "build.gradle": "plugins { id 'java' }\n",
        "src/main/java/calc/Calc.java": JAVA_CALC,
        "src/test/java/calc/CalcTest.java": "package calc;\n\n" + JUNIT5 + "class CalcTest {\n"
        "    @Test void adds() { assertEquals(3, Calc.add(1, 2)); }\n"
        "    @Test void subtracts() { assertEquals(2, Calc.sub(3, 1)); }\n"
        "    @Test void multiplies() { assertEquals(6, Calc.mul(2, 3)); }\n"
        "    @Test void legacy() { assertEquals(1, 2); }\n}\n",
    },
    changes={
        "src/main/java/calc/Calc.java": JAVA_CALC.replace(
            "a + b; }\n    public static int mul", "a - b; }\n    public static int mul"
        ).replace("a * b", "a + b"),
        "src/test/java/calc/NewTest.java": "package calc;\n\n" + JUNIT5 + "class NewTest {\n"
        "    @Test void works() { assertEquals(1, 1); }\n}\n",
    },
    fixed=["calc.CalcTest#subtracts()"],
    broken=["calc.CalcTest#multiplies()"],
    still_failing=["calc.CalcTest#legacy()"],
    new=["calc.NewTest#works()"],
)
JS_CALC = (
    "function add(a, b) { return a + b; }\nfunction sub(a, b) { return a + b; }\n"
    "function mul(a, b) { return a * b; }\nmodule.exports = { add, sub, mul };\n"
)
JS_TESTS = (
    "describe('calc', () => {\n"
    "  test('adds', () => expect(add(1, 2)).toBe(3));\n"
    "  test('subtracts', () => expect(sub(3, 1)).toBe(2));\n"
    "  test('multiplies', () => expect(mul(2, 3)).toBe(6));\n"
    "  test('is legacy', () => expect(1).toBe(2));\n});\n"
)
JS = Case(
    language="javascript",
    files={
        "src/calc.js": JS_CALC,
        "__tests__/calc.test.js": "const { add, sub, mul } = require('../src/calc');\n" + JS_TESTS,
    },
    changes={
        "src/calc.js": JS_CALC.replace("sub(a, b) { return a + b", "sub(a, b) { return a - b").replace(
            "a * b", "a + b"
        ),
        "__tests__/new.test.js": "test('works', () => expect(1).toBe(1));\n",
    },
    fixed=["__tests__/calc.test.js::calc subtracts"],
    broken=["__tests__/calc.test.js::calc multiplies"],
    still_failing=["__tests__/calc.test.js::calc is legacy"],
    new=["__tests__/new.test.js::works"],
)
TS_CALC = (
    "export function add(a: number, b: number): number { return a + b; }\n"
    "export function sub(a: number, b: number): number { return a + b; }\n"
    "export function mul(a: number, b: number): number { return a * b; }\n"
)
TS = Case(
    language="typescript",
    files={
        "tsconfig.json": '{"compilerOptions": {"strict": true, "esModuleInterop": true}}\n',
        "src/calc.ts": TS_CALC,
        "tests/calc.test.ts": "import { add, sub, mul } from '../src/calc';\n\n" + JS_TESTS,
    },
    changes={
        "src/calc.ts": TS_CALC.replace(
            "return a + b; }\nexport function mul", "return a - b; }\nexport function mul"
        ).replace("a * b", "a + b"),
        "tests/new.test.ts": "test('works', () => expect(1).toBe(1));\n",
    },
    fixed=["tests/calc.test.ts::calc subtracts"],
    broken=["tests/calc.test.ts::calc multiplies"],
    still_failing=["tests/calc.test.ts::calc is legacy"],
    new=["tests/new.test.ts::works"],
)
CASES = {"go": GO, "rspec": RSPEC, "minitest": MINITEST, "java": JAVA, "javascript": JS, "typescript": TS}


@pytest.mark.parametrize("name", sorted(CASES))
def test_transitions_in_each_language(name: str, executor: DockerExecutor, tmp_path: Path, project_id: str) -> None:
    case = CASES[name]
    for rel, text in case.files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    proposal = Proposal(
        proposal_id=f"lang-{uuid.uuid4().hex[:8]}",
        project_id=project_id,
        workspace=str(tmp_path),
        language=case.language,
        changes=[{"filepath": rel, "content": text} for rel, text in case.changes.items()],
    )
    settings = Settings(SIGMA_NODE="test-node", AUTO_BUILD=False, VERDICT_POLICY="no-regressions", **case.settings)
    outcome = run_pipeline(executor, proposal, settings, baselines=MemoryBaselineCache())
    moves = outcome.transitions
    assert moves is not None, (outcome.error, outcome.baseline, outcome.tests and outcome.tests.get("output"))
    assert (moves.fixed, moves.broken, moves.still_failing, moves.new) == (
        case.fixed,
        case.broken,
        case.still_failing,
        case.new,
    ), moves
    assert moves.removed == moves.flaky == []
    assert outcome.status == "rejected" and case.broken[0] in " ".join(outcome.reasons)
