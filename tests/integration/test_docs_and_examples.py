"""The README's tour, the pages of docs/, the examples and ``qdreamer demo`` run as written.

Each runs as its own driver process that joins this session's Ray cluster
through ``RAY_ADDRESS`` (the path a driver on a Ray cluster takes), and the
cluster must still be running afterwards: a service never stops a Ray it
did not start.  Every file in examples/ is run by a named test (here or in
another module of tests/integration); docs/ quotes examples only verbatim.
"""

from __future__ import annotations

import ast
import importlib
import os
import re
import shlex
import subprocess
import sys
import textwrap
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import ray

ROOT = Path(__file__).resolve().parents[2]

#: Every example and the test that runs it in CI (not skipped; ``slow`` runs in CI too).
EXAMPLES_RUN_IN_CI = {
    "examples/quickstart.py": (
        "tests/integration/test_docs_and_examples.py::test_quickstart_example"
    ),
    "examples/hybrid_qml.py": (
        "tests/integration/test_hybrid_qml_example.py::test_hybrid_classifier_reaches_90_percent"
    ),
    "examples/vqe.py": (
        "tests/integration/test_variational_examples.py::test_vqe_reaches_the_exact_ground_energy"
    ),
    "examples/qaoa_maxcut.py": (
        "tests/integration/test_variational_examples.py::test_qaoa_samples_the_brute_force_maxcut"
    ),
    "examples/cutting.py": "tests/integration/test_docs_and_examples.py::test_cutting_example",
}


@pytest.fixture
def driver_env(ray_session: None) -> dict[str, str]:
    env = dict(os.environ)
    env["RAY_ADDRESS"] = ray.get_runtime_context().gcs_address
    return env


def run_driver(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    out = subprocess.run(
        args, capture_output=True, text=True, timeout=300, env=env, cwd=cwd, check=False
    )
    assert out.returncode == 0, f"stdout:\n{out.stdout[-3000:]}\nstderr:\n{out.stderr[-3000:]}"
    assert ray.is_initialized() and ray.cluster_resources().get("CPU") == 2
    return out


@pytest.mark.slow
def test_readme_tour(driver_env: dict[str, str], tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text()
    tour = readme.split("## A tour", 1)[1]
    code = re.search(r"```python\n(.*?)```", tour, re.S)
    assert code is not None
    script = tmp_path / "tour.py"
    script.write_text(code.group(1).replace('"/tmp/qd"', repr(str(tmp_path / "work"))))
    out = run_driver([sys.executable, str(script)], driver_env, tmp_path)
    lines = out.stdout.strip().splitlines()
    assert re.match(r"\{'00': \d+, '11': \d+\} aer_simulator qiskit_local-0", lines[0]), lines
    assert lines[1] in {"000", "111"}


@pytest.mark.slow
def test_readme_hybrid_programs(driver_env: dict[str, str], tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("### Hybrid programs", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code is not None
    script = tmp_path / "hybrid.py"
    script.write_text(code.group(1).replace('"/tmp/qd"', repr(str(tmp_path / "work"))))
    out = run_driver(
        [sys.executable, "-W", "ignore::DeprecationWarning", str(script)], driver_env, tmp_path
    )
    lines = out.stdout.strip().splitlines()
    assert lines[0] == "11"
    values = [v for row in ast.literal_eval(lines[1]) for v in row]
    assert values == pytest.approx([1, 1, 1, 0, 1, -1], abs=1e-9)


@pytest.mark.slow
def test_quickstart_example(driver_env: dict[str, str], tmp_path: Path) -> None:
    out = run_driver(
        [sys.executable, str(ROOT / "examples" / "quickstart.py")], driver_env, tmp_path
    )
    rows = [line.split() for line in out.stdout.splitlines()[1:]]
    assert len(rows) == 9
    assert {r[0] for r in rows} == {"qiskit_local", "pennylane_lightning", "braket_local"}
    assert all(r[-1] == "1.000" for r in rows)  # GHZ: only 000 and 111


@pytest.mark.slow
def test_cutting_example(driver_env: dict[str, str], tmp_path: Path) -> None:
    """40 qubits over two Aer pilots: exact values equal the stabilizer state's, sampled
    ones lie within 4 standard errors, both pilots ran subexperiments, and the plot of
    where they ran is written to the working directory by default."""
    out = run_driver(
        [sys.executable, str(ROOT / "examples" / "cutting.py"), "--shots", "2000"],
        driver_env,
        tmp_path,
    )
    text = out.stdout
    assert re.search(r"^plan: 2 cuts .*fragments \{'0': 20, '1': 20\}", text, re.M), text
    diff = re.search(r"^exact: max \|cut - StabilizerState\| = (\S+)", text, re.M)
    assert diff is not None and float(diff[1]) <= 1e-6, text
    assert "every value within 4 standard errors: True" in text, text
    ran = set(re.findall(r"(aer-\d)/aer_simulator x\d+", text))
    assert ran == {"aer-0", "aer-1"}, text
    assert (tmp_path / "cutting.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert re.search(r"^OK in ", text, re.M), text


@pytest.mark.slow
def test_qdreamer_demo(driver_env: dict[str, str], tmp_path: Path) -> None:
    import json

    out = run_driver(
        [sys.executable, "-m", "pilot.cli", "demo", "--shots", "200", "--json"],
        driver_env,
        tmp_path,
    )
    data: dict[str, Any] = json.loads(out.stdout[out.stdout.index("{") :])
    assert [r["executor"] for r in data["results"]] == [
        "qiskit_local",
        "pennylane_lightning",
        "braket_local",
    ]
    assert all(
        r["bell_fraction"] == 1.0 and sum(r["counts"].values()) == 200 for r in data["results"]
    )
    assert data["skipped"] == []


def test_cli_errors_are_one_line_without_traceback(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "pilot.cli", "demo", "--shots", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
    )
    assert out.returncode == 2
    assert "Invalid value for '--shots'" in out.stderr and "Traceback" not in out.stderr
    listing = subprocess.run(
        [sys.executable, "-m", "pilot.cli", "executors", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd=tmp_path,
    )
    import json

    names = {row["executor"] for row in json.loads(listing.stdout)}
    assert {
        "qiskit_local",
        "qiskit_fake",
        "ibm_runtime",
        "pennylane_default",
        "pennylane_lightning",
        "braket_local",
        "braket_sv1",
    } <= names


#: CI's grep for the README's test command (.ci/run).
CI_TEST_COMMAND = re.compile(r"^python3 -m venv \.venv && .*pytest")
#: The first quick-start command: install extras, then run the demo.
DEMO_COMMAND = re.compile(
    r'python3 -m venv \.venv && \.venv/bin/pip install -e "\.\[(?P<extras>[\w,-]+)\]" '
    r"&& \.venv/bin/qdreamer demo"
)
#: How the examples that need torch say to install it (the CPU build first).
TORCH_INSTALL = 'pip install torch==2.13.0 && pip install -e ".[torch]"'


def _with_included_extras(extras: set[str]) -> tuple[set[str], list[str]]:
    """``extras`` with the extras they include (``qdreamer[a,b]``), and their requirements."""
    optional = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    seen: set[str] = set()
    requirements: list[str] = []
    todo = list(extras)
    while todo:
        extra = todo.pop()
        if extra in seen:
            continue
        seen.add(extra)
        for req in optional[extra]:
            m = re.fullmatch(r"qdreamer\[([\w,-]+)\]", req)
            if m:
                todo += m[1].split(",")
            else:
                requirements.append(req)
    return seen, requirements


def test_readme_quick_start_installs_what_the_demo_and_the_cli_defaults_use() -> None:
    """Two commands: the first installs and runs the demo (and leaves torch out), the
    second is the test command CI greps for.  The first installs the SDK of every
    executor the demo and the CLI's defaults start."""
    from pilot.backends.registry import resolve_executor
    from pilot.cli.demo import DEMO_EXECUTORS
    from pilot.cli.main import DEFAULT_RESOURCE_EXECUTORS

    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", section, re.S)
    commands = [line for block in blocks for line in block.splitlines() if line.strip()]
    assert len(commands) == 2, commands
    demo, tests = commands
    m = DEMO_COMMAND.fullmatch(demo)
    assert m is not None, demo
    assert CI_TEST_COMMAND.match(tests) and not CI_TEST_COMMAND.match(demo)
    extras, requirements = _with_included_extras(set(m["extras"].split(",")))
    assert not [r for r in requirements if re.match(r"torch\b", r)], requirements
    # `qdreamer run` starts qiskit_local by default; `resources` the defaults below.
    for name in {*DEMO_EXECUTORS, *DEFAULT_RESOURCE_EXECUTORS, "qiskit_local"}:
        needed = re.search(r"qdreamer\[(\w+)\]", resolve_executor(name).install)
        assert needed is None or needed[1] in extras, (name, needed, extras)


def test_examples_that_need_torch_say_how_to_install_it() -> None:
    source = (ROOT / "examples" / "hybrid_qml.py").read_text()
    docstring = ast.get_docstring(ast.parse(source)) or ""
    assert TORCH_INSTALL in docstring
    for page in ("README.md", "docs/hybrid.md"):
        text = " ".join((ROOT / page).read_text().split())  # lines joined as rendered
        mentions = [m.end() for m in re.finditer(r"`python examples/hybrid_qml\.py`", text)]
        assert mentions, page
        for end in mentions:
            around = text[end - 600 : end + 200]
            assert "torch==2.13.0" in around and '".[torch]"' in around, (page, around)


def test_every_example_runs_in_ci() -> None:
    """A new example needs a test that runs it (and an entry above)."""
    examples = {f"examples/{p.name}" for p in (ROOT / "examples").glob("*.py")}
    assert examples == set(EXAMPLES_RUN_IN_CI), "examples/ and EXAMPLES_RUN_IN_CI differ"
    for example, test in EXAMPLES_RUN_IN_CI.items():
        path, name = test.split("::")
        source = (ROOT / path).read_text()
        assert f"def {name}(" in source, f"{test} (for {example}) does not exist"
        module = ast.parse(source)
        marks = {
            ast.unparse(d)
            for node in ast.walk(module)
            if isinstance(node, ast.FunctionDef) and node.name == name
            for d in node.decorator_list
        }
        module_marks = re.findall(r"^pytestmark = (.*)$", source, re.M)
        assert not any("skip" in m for m in (*marks, *module_marks)), f"{test} is skipped"
        stem = Path(example).stem
        assert f'"{stem}"' in source or f"{stem}.py" in source, f"{test} does not load {example}"


# ------------------------------------------------------------------ docs/*.md
# Every fenced ```python block in docs/ carries a marker on the line before it:
#
#   <!-- doc-test: run -->              the page's run blocks execute in order, as one
#                                       driver script joining the session's Ray
#   <!-- doc-test: compile -->          compiled, and its ``pilot``/``dreamer`` imports
#                                       resolved (blocks that need a cluster or Slurm)
#   <!-- doc-test: example PATH -->     a verbatim excerpt of PATH (an example CI runs)
#   <!-- doc-test: output -->           (on a ```text block) what the run blocks before it
#                                       printed, numbers aside
#   <!-- doc-test: config -->           (on a ```toml block) a user file that loads
#
# and every ``qdreamer ...`` line of a ```bash block names real commands and options.

DOCS = ROOT / "docs"
PAGES = sorted(p.name for p in DOCS.glob("*.md"))
FENCE = re.compile(r"^```(?P<lang>\w*)\n(?P<body>.*?)^```$", re.S | re.M)
MARKER = re.compile(r"<!--\s*doc-test:\s*(?P<mode>[a-z]+)\s*(?P<arg>[^>]*?)\s*-->\s*$")
#: Numbers that are measurements (counts, timings, scores): not bit strings such as '00'
#: nor the numbers in names such as qiskit_local-0.
NUMBER = re.compile(r"(?<![\w'\"-])-?\d+(?:\.\d+)?(?:e[-+]?\d+)?(?![\w'\"])")
#: How many times a page's script runs in one working directory (resume needs a second run).
RUNS = {"reliability.md": 2}


@dataclass(frozen=True)
class Block:
    page: str
    line: int
    lang: str
    mode: str | None
    arg: str
    code: str


def doc_blocks(page: str) -> list[Block]:
    text = (DOCS / page).read_text()
    blocks = []
    for m in FENCE.finditer(text):
        before = text[: m.start()].rstrip("\n").rsplit("\n", 1)[-1]
        marker = MARKER.search(before)
        blocks.append(
            Block(
                page,
                text.count("\n", 0, m.start()) + 1,
                m["lang"],
                marker["mode"] if marker else None,
                marker["arg"] if marker else "",
                m["body"],
            )
        )
    return blocks


SEPARATOR = "=== doc-test block "


def page_script(blocks: list[Block]) -> str:
    """The run blocks of a page as one script; each prints a separator line first."""
    parts = []
    for i, block in enumerate(b for b in blocks if b.mode == "run"):
        parts.append(f"print({SEPARATOR!r} + {str(i)!r}, flush=True)\n{block.code}")
    return "\n".join(parts)


def run_outputs(stdout: str) -> list[str]:
    """The stdout of each run block, without the lines Ray forwards to the driver from
    its workers (``(pid=...)``, ``(PilotActor pid=...)``) and its raylet (``(raylet)``,
    e.g. when a doc kills a pilot's actor), coloured or not."""
    lines = [
        line
        for line in stdout.splitlines()
        if not re.match(r"(\x1b\[[0-9;]*m)?\((raylet|\S* ?pid=\d+)", line)
    ]
    chunks: list[list[str]] = []
    for line in lines:
        if line.startswith(SEPARATOR):
            chunks.append([])
        elif chunks:
            chunks[-1].append(line.rstrip())
    return ["\n".join(c).strip("\n") for c in chunks]


def same_but_numbers(expected: str, actual: str) -> bool:
    def norm(text: str) -> list[str]:
        return [NUMBER.sub("N", line.rstrip()) for line in text.strip("\n").splitlines()]

    return norm(expected) == norm(actual)


def test_docs_are_indexed() -> None:
    """Every page is linked from docs/README.md, and the README links the docs."""
    index = (DOCS / "README.md").read_text()
    readme = (ROOT / "README.md").read_text()
    assert "docs/README.md" in readme
    for page in PAGES:
        if page != "README.md":
            assert f"]({page})" in index, f"docs/README.md does not link {page}"
            assert f"](docs/{page})" in readme, f"README.md does not link docs/{page}"


@pytest.mark.parametrize("page", PAGES)
def test_doc_links_resolve(page: str) -> None:
    text = (DOCS / page).read_text()
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
        if re.match(r"[a-z]+://|mailto:", target):
            continue
        assert (DOCS / target).resolve().exists(), f"docs/{page}: broken link {target}"


@pytest.mark.parametrize("page", PAGES)
def test_doc_blocks_are_checked(page: str) -> None:
    """Every Python block is marked; compile blocks compile and their imports resolve;
    example blocks are verbatim excerpts of an example; config blocks load."""
    for block in doc_blocks(page):
        where = f"docs/{page}:{block.line}"
        assert block.mode in {None, "run", "compile", "example", "output", "config"}, where
        if block.lang == "python":
            assert block.mode in {"run", "compile", "example"}, f"{where}: no doc-test marker"
        else:
            expected = {"output": "text", "config": "toml"}.get(block.mode or "", block.lang)
            assert block.lang == expected, f"{where}: a {block.mode} marker on a {block.lang} block"
        if block.mode in {"run", "compile"}:
            tree = ast.parse(block.code, filename=where)  # a SyntaxError names the line
            compile(tree, where, "exec")
            for node in ast.walk(tree):
                if (
                    isinstance(node, ast.ImportFrom)
                    and node.module
                    and (node.module.split(".")[0] in {"pilot", "dreamer"})
                ):
                    module = importlib.import_module(node.module)
                    for alias in node.names:
                        assert hasattr(module, alias.name), f"{where}: {node.module}.{alias.name}"
        elif block.mode == "example":
            source = (ROOT / block.arg).read_text().splitlines()
            excerpt = textwrap.dedent(block.code).splitlines()
            windows = (
                textwrap.dedent("\n".join(source[i : i + len(excerpt)])).splitlines()
                for i in range(len(source) - len(excerpt) + 1)
            )
            assert excerpt in windows, f"{where}: not a verbatim excerpt of {block.arg}"
            assert block.arg in EXAMPLES_RUN_IN_CI, f"{where}: {block.arg} does not run in CI"


CONFIG_PAGES = [p for p in PAGES if any(b.mode == "config" for b in doc_blocks(p))]


def test_config_blocks_are_found() -> None:
    """The pages known to hold TOML configuration are among those the test loads."""
    assert {"configuration.md"} <= set(CONFIG_PAGES), CONFIG_PAGES


@pytest.mark.parametrize("page", CONFIG_PAGES)
def test_doc_config_blocks_load(page: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pilot.config import load_config, parse_description

    for block in doc_blocks(page):
        if block.mode != "config":
            continue
        path = tmp_path / f"config-{block.line}.toml"
        path.write_text(block.code)
        path.chmod(0o600)
        monkeypatch.setenv("QDREAMER_CONFIG", str(path))
        conf = load_config()
        parse_description({})
        for name in conf["executors"]:
            parse_description({"resource_type": "quantum", "quantum": {"executor": name}})


def _cli_lines(page: str) -> list[tuple[str, list[str]]]:
    found = []
    for block in doc_blocks(page):
        if block.lang not in {"bash", "console", "sh"}:
            continue
        for raw in block.code.replace("\\\n", " ").splitlines():
            if block.lang == "console" and not raw.startswith("$ "):
                continue  # output
            line = raw.split(" #", 1)[0].strip().removeprefix("$ ")
            words = shlex.split(line) if line else []
            while words and re.match(r"[A-Z_]+=", words[0]):
                words = words[1:]
            if words[:1] == ["qdreamer"]:
                found.append((f"docs/{page}:{block.line}: {line}", words[1:]))
    return found


CLI_PAGES = [p for p in PAGES if _cli_lines(p)]


@pytest.mark.parametrize("page", CLI_PAGES)
def test_doc_cli_lines_name_real_options(page: str) -> None:
    import typer

    from pilot.cli.main import app

    for where, words in _cli_lines(page):
        command: Any = typer.main.get_command(app)  # (typer's own copy of click)
        for word in words:
            if word == "--":
                break
            subcommands = getattr(command, "commands", {})
            if word in subcommands:
                command = subcommands[word]
            elif word.startswith("-"):
                option = word.split("=", 1)[0]
                names = {o for p in command.params for o in (*p.opts, *p.secondary_opts)}
                assert option in names | {"--help"}, f"{where}: no option {option}"
        assert not getattr(command, "commands", None), f"{where}: no subcommand"


@pytest.mark.slow
@pytest.mark.parametrize("page", [p for p in PAGES if any(b.mode == "run" for b in doc_blocks(p))])
def test_doc_page_runs(page: str, driver_env: dict[str, str], tmp_path: Path) -> None:
    """A page's run blocks execute as one driver on the session's Ray; each
    ``output`` block matches what the run blocks before it printed (numbers aside)."""
    blocks = doc_blocks(page)
    work = tmp_path / "work"
    script = tmp_path / f"{page}.py"
    # Working directories "/tmp/qd..." move under tmp_path.
    script.write_text(page_script(blocks).replace('"/tmp/qd', '"' + str(work)))
    outputs: list[list[str]] = []
    for _ in range(RUNS.get(page, 1)):
        out = run_driver(
            [sys.executable, "-W", "ignore::DeprecationWarning", str(script)], driver_env, tmp_path
        )
        outputs.append(run_outputs(out.stdout))
    runs_seen, differences = 0, []
    for block in blocks:
        if block.mode == "run":
            runs_seen += 1
        elif block.mode == "output":
            assert runs_seen, f"docs/{page}:{block.line}: an output block before any run block"
            run = int(block.arg.removeprefix("run=")) if block.arg else 1
            actual = outputs[run - 1][runs_seen - 1]
            if not same_but_numbers(block.code, actual):
                differences.append(
                    f"docs/{page}:{block.line} (run {run}): documented\n{block.code}"
                    f"--- printed\n{actual}\n"
                )
    assert not differences, "\n".join(differences)
