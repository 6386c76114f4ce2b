"""Mutation testing of the safety-critical modules: do the tests notice when the code is wrong?

For each module, a sample of single-point mutants (a comparison turned, `and` for `or`, a
number moved by one, a statement dropped, …) is written into a copy of the source tree, and
the module's own tests run against it. A mutant is *killed* when a test fails or the run
times out (a timeout is counted as killed, as is usual); one that passes every test
*survives* and shows a behaviour no test pins down.

    python scripts/mutation.py [--module NAME ...] [--sample N] [--seed S] [--json PATH]

The working tree is never changed: mutants live in a temporary copy.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# Module → the tests that are its judges. PostgreSQL variants are left out for speed.
TARGETS: dict[str, tuple[str, list[str]]] = {
    "outbox": ("edge/outbox.py", ["tests/edge/test_outbox.py", "tests/edge/test_outbox_edges.py",
                                   "tests/edge/test_agent.py"]),
    "wire": ("bedwatch/wire.py", ["tests/test_wire.py", "tests/test_wire_hostile.py",
                                  "tests/test_wire_edges.py"]),
    "wire.cleaning": ("bedwatch/cleaning.py", [
        "tests/test_wire.py", "tests/test_wire_hostile.py", "tests/test_wire_edges.py"]),
    "framing": ("edge/drivers/framing.py", [
        "tests/edge/test_framing.py", "tests/edge/test_framing_edges.py",
        "tests/drivers/call_button", "tests/drivers/bed_sensor",
        "tests/drivers/fall_mat"]),
    "alerts.intake": ("hub/alerts/intake.py", [
        "tests/hub/test_intake_edges.py", "tests/hub/test_alerts.py",
        "tests/hub/test_escalation.py", "tests/hub/test_desk.py", "tests/hub/test_watchdog.py"]),
    "alerts.escalation": ("hub/alerts/escalation.py", [
        "tests/hub/test_escalation_edges.py", "tests/hub/test_alerts.py",
        "tests/hub/test_escalation.py", "tests/hub/test_desk.py",
        "tests/hub/test_intake_edges.py"]),
    "alerts.delivery": ("hub/alerts/delivery.py", [
        "tests/hub/test_delivery_edges.py", "tests/hub/test_alerts.py",
        "tests/hub/test_escalation.py", "tests/hub/test_desk.py", "tests/hub/test_pager.py",
        "tests/hub/test_watchdog.py"]),
    "occupancy": ("edge/detectors/occupancy.py", ["tests/detectors/test_occupancy.py",
                                                  "tests/detectors/test_occupancy_edges.py",
                                                  "tests/detectors/test_eval.py"]),
}

_COMPARE = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt,
            ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.In: ast.NotIn, ast.NotIn: ast.In,
            ast.Is: ast.IsNot, ast.IsNot: ast.Is}
_BINARY = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult,
           ast.FloorDiv: ast.Mult, ast.Pow: ast.Mult}
_QUIET_CALLS = ("log.", "logger.", "logging.", "print(")


@dataclass(frozen=True)
class Mutant:
    index: int
    line: int
    what: str


class _Mutator(ast.NodeTransformer):
    """Enumerate mutation points in source order; apply the one numbered `target`."""

    def __init__(self, target: int | None = None) -> None:
        self.target = target
        self.points: list[Mutant] = []

    def _point(self, node: ast.AST, what: str) -> bool:
        index = len(self.points)
        self.points.append(Mutant(index, getattr(node, "lineno", 0), what))
        return index == self.target

    # Annotations and docstrings are not behaviour.
    def visit_AnnAssign(self, node: ast.AnnAssign) -> ast.AST:
        if node.value is not None:
            node.value = self.visit(node.value)
        return node

    def visit_arguments(self, node: ast.arguments) -> ast.AST:
        node.defaults = [self.visit(d) for d in node.defaults]
        node.kw_defaults = [self.visit(d) if d is not None else None for d in node.kw_defaults]
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        node.args = self.visit(node.args)
        node.body = [self.visit(s) for s in node.body]
        return node

    visit_AsyncFunctionDef = visit_FunctionDef  # type: ignore[assignment]

    def visit_Compare(self, node: ast.Compare) -> ast.AST:
        self.generic_visit(node)
        for i, op in enumerate(node.ops):
            swap = _COMPARE.get(type(op))
            if swap and self._point(node, f"{type(op).__name__} → {swap.__name__}"):
                node.ops[i] = swap()
        return node

    def visit_BoolOp(self, node: ast.BoolOp) -> ast.AST:
        self.generic_visit(node)
        swap = ast.Or if isinstance(node.op, ast.And) else ast.And
        if self._point(node, f"{type(node.op).__name__} → {swap.__name__}"):
            node.op = swap()
        return node

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        self.generic_visit(node)
        if isinstance(node.left, ast.Constant) and isinstance(node.left.value, str):
            return node  # string formatting
        swap = _BINARY.get(type(node.op))
        if swap and self._point(node, f"{type(node.op).__name__} → {swap.__name__}"):
            node.op = swap()
        return node

    def visit_AugAssign(self, node: ast.AugAssign) -> ast.AST:
        self.generic_visit(node)
        swap = _BINARY.get(type(node.op))
        if swap and self._point(node, f"{type(node.op).__name__}= → {swap.__name__}="):
            node.op = swap()
        return node

    def visit_UnaryOp(self, node: ast.UnaryOp) -> ast.AST:
        self.generic_visit(node)
        if isinstance(node.op, ast.Not) and self._point(node, "not removed"):
            return node.operand
        return node

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        value = node.value
        if isinstance(value, bool):
            if self._point(node, f"{value} → {not value}"):
                return ast.copy_location(ast.Constant(not value), node)
        elif isinstance(value, int):
            if self._point(node, f"{value} → {value + 1}"):
                return ast.copy_location(ast.Constant(value + 1), node)
        elif isinstance(value, float):
            new = value * 1.5 if value else 1.0
            if self._point(node, f"{value} → {new}"):
                return ast.copy_location(ast.Constant(new), node)
        return node

    def visit_Expr(self, node: ast.Expr) -> ast.AST:
        if isinstance(node.value, ast.Constant):
            return node  # a docstring
        text = ast.unparse(node.value)
        if isinstance(node.value, (ast.Call, ast.Await)) and not text.startswith(_QUIET_CALLS):
            if self._point(node, f"statement dropped: {text[:60]}"):
                return ast.copy_location(ast.Pass(), node)
        self.generic_visit(node)
        return node

    def visit_Return(self, node: ast.Return) -> ast.AST:
        self.generic_visit(node)
        if node.value is not None and not (isinstance(node.value, ast.Constant)
                                           and node.value.value is None):
            if self._point(node, "return None"):
                node.value = ast.Constant(None)
        return node


def enumerate_mutants(source: str) -> list[Mutant]:
    """Return every mutation point of a module, in source order."""
    mutator = _Mutator()
    mutator.visit(ast.parse(source))
    return mutator.points


def mutate(source: str, index: int) -> str:
    """Return the source with mutation point `index` applied."""
    tree = _Mutator(index).visit(ast.parse(source))
    return ast.unparse(ast.fix_missing_locations(tree))


def _copy_tree(dest: Path) -> None:
    ignore = shutil.ignore_patterns(".git", ".venv", "__pycache__", "*.egg-info", "var",
                                    "test-artifacts", ".mypy_cache", ".ruff_cache")
    shutil.copytree(REPO, dest, ignore=ignore, dirs_exist_ok=True)


def _run_tests(root: Path, tests: list[str], timeout_s: float) -> tuple[str, float]:
    env = {**os.environ, "PYTHONPATH": str(root), "PYTHONDONTWRITEBYTECODE": "1"}
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
               "-k", "not postgresql", *tests]
    start = time.monotonic()
    try:
        result = subprocess.run(command, cwd=root, env=env, capture_output=True,
                                timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        return "timeout", time.monotonic() - start
    elapsed = time.monotonic() - start
    return ("passed" if result.returncode == 0 else "failed"), elapsed


def run_module(name: str, sample: int, rng: random.Random, work: Path) -> dict[str, object]:
    """Mutate one module `sample` times; return its figures and survivors."""
    rel, tests = TARGETS[name]
    source = (REPO / rel).read_text(encoding="utf-8")
    points = enumerate_mutants(source)
    chosen = sorted(rng.sample(points, min(sample, len(points))), key=lambda m: m.index)
    target = work / rel
    target.write_text(source, encoding="utf-8")
    outcome, baseline_s = _run_tests(work, tests, timeout_s=600)
    if outcome != "passed":
        raise SystemExit(f"{name}: the tests fail on the unmutated code; fix that first")
    timeout_s = max(10.0, baseline_s * 3)
    killed = timeouts = 0
    survivors: list[dict[str, object]] = []
    for mutant in chosen:
        target.write_text(mutate(source, mutant.index), encoding="utf-8")
        result, _ = _run_tests(work, tests, timeout_s)
        if result == "passed":
            survivors.append({"line": mutant.line, "mutation": mutant.what})
        else:
            killed += 1
            timeouts += result == "timeout"
        print(f"  {name}:{mutant.line:<4} {result:8} {mutant.what}", flush=True)
    target.write_text(source, encoding="utf-8")
    score = killed / len(chosen) if chosen else 1.0
    return {"module": rel, "points": len(points), "mutants": len(chosen), "killed": killed,
            "timeouts": timeouts, "survived": len(survivors), "score": round(score, 3),
            "baseline_test_s": round(baseline_s, 1), "survivors": survivors}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--module", action="append", choices=sorted(TARGETS),
                        help="module to mutate (default: all)")
    parser.add_argument("--sample", type=int, default=40, help="mutants per module")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    results = []
    with tempfile.TemporaryDirectory(prefix="bedwatch-mutation-") as tmp:
        work = Path(tmp) / "tree"
        _copy_tree(work)
        for name in args.module or list(TARGETS):
            print(f"== {name}", flush=True)
            results.append({"name": name, **run_module(name, args.sample, rng, work)})
    print()
    print(f"{'module':<20} {'points':>6} {'mutants':>7} {'killed':>6} {'timeout':>7} "
          f"{'survived':>8} {'score':>6}")
    for r in results:
        print(f"{r['name']:<20} {r['points']:>6} {r['mutants']:>7} {r['killed']:>6} "
              f"{r['timeouts']:>7} {r['survived']:>8} {r['score']:>6.0%}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
