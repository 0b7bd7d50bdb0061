"""docs/configuration.md documents every key there is, so none can go undocumented.

The keys are read from the code, not listed here: every field of the pydantic
models in ``pilot/config.py`` (pilot descriptions, ``quantum`` and the models
nested in it, ``[service]``, ``[dreamer]``), every key of
``conf/defaults.toml``, and every environment variable ``pilot`` or
``dreamer`` reads.  A key counts as documented when a table row of
docs/configuration.md starts with it, spelt as a user writes it
(``quantum.retries.max_attempts``, ``service.num_cpus``).  Milliseconds, no Ray.
"""

from __future__ import annotations

import ast
import importlib
import re
import tomllib
from pathlib import Path
from typing import Any, get_args

import pytest
from pydantic import BaseModel

from pilot.config import DreamerTable, PilotDescription, ServiceTable

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "configuration.md"


def documented_keys() -> set[str]:
    """The keys that start a table row: ``| `quantum.seed` | ...`` (aliases too)."""
    keys = set()
    for line in DOC.read_text().splitlines():
        cell = re.match(r"\|\s*(`[^|]*?)\s*\|", line)
        if cell:
            keys |= set(re.findall(r"`([\w.]+)`", cell[1]))
    return keys


def _submodels(annotation: Any) -> list[type[BaseModel]]:
    found = []
    for arg in (annotation, *get_args(annotation)):
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            found.append(arg)
    return found


def model_keys(model: type[BaseModel], prefix: str = "") -> dict[str, str]:
    """Dotted key -> model name, for every field of ``model`` and of the models it nests."""
    keys = {}
    for name, field in model.model_fields.items():
        keys[prefix + name] = model.__name__
        if field.alias:
            keys[prefix + field.alias] = model.__name__
        for sub in _submodels(field.annotation):
            keys.update(model_keys(sub, f"{prefix}{name}."))
    return keys


def all_config_keys() -> dict[str, str]:
    keys = model_keys(PilotDescription)
    keys.update(model_keys(ServiceTable, "service."))
    keys.update(model_keys(DreamerTable, "dreamer."))
    return keys


def test_the_five_models_are_all_reached() -> None:
    reached = set(all_config_keys().values())
    assert {
        "PilotDescription",
        "QuantumConfig",
        "RetryConfig",
        "ServiceTable",
        "DreamerTable",
    } <= reached


def test_every_config_key_is_documented() -> None:
    documented = documented_keys()
    missing = sorted(f"{key} ({model})" for key, model in all_config_keys().items())
    missing = [m for m in missing if m.split(" ")[0] not in documented]
    assert not missing, f"docs/configuration.md has no table row for: {', '.join(missing)}"


def test_no_documented_key_is_made_up() -> None:
    """Every dotted key in a table row exists (quantum.*, service.*, dreamer.*)."""
    known = set(all_config_keys())
    invented = sorted(
        k
        for k in documented_keys()
        if k.split(".")[0] in {"quantum", "service", "dreamer"} and "." in k and k not in known
    )
    assert not invented, f"documented but not in pilot/config.py: {invented}"


def _toml_keys(table: dict[str, Any], prefix: str = "") -> set[str]:
    keys = set()
    for key, value in table.items():
        if isinstance(value, dict):
            keys |= _toml_keys(value, f"{prefix}{key}.")
        else:
            keys.add(prefix + key)
    return keys


def test_every_packaged_default_is_documented() -> None:
    """conf/defaults.toml's keys, with [pilot] as the description and
    [executors.X] as the ``quantum`` dict they default."""
    defaults = tomllib.loads((ROOT / "conf" / "defaults.toml").read_text())
    documented = documented_keys()
    missing = []
    for dotted in sorted(_toml_keys(defaults)):
        table, _, rest = dotted.partition(".")
        key = {"pilot": rest, "executors": "quantum." + rest.partition(".")[2]}.get(table, dotted)
        if key not in documented:
            missing.append(key)
    assert not missing, f"docs/configuration.md has no table row for: {missing}"


def environment_variables() -> set[str]:
    """Names ``pilot``/``dreamer`` read with ``os.environ``/``os.getenv`` (given as a
    string or a module constant), and the constants named ``ENV``/``*_ENV``."""
    names: set[str] = set()
    for path in [*(ROOT / "pilot").rglob("*.py"), *(ROOT / "dreamer").rglob("*.py")]:
        module_name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        if path.name == "__main__.py":  # `python -m pilot.cli`: importing it runs the CLI
            module_name = module_name.removesuffix(".__main__")
        try:
            module: Any = importlib.import_module(module_name.removesuffix(".__init__"))
        except ImportError:  # an optional extra (torch, matplotlib): literals still count
            module = None

        def value_of(node: ast.expr, module: Any = module) -> Any:
            if isinstance(node, ast.Constant):
                return node.value
            if isinstance(node, ast.Name):
                return getattr(module, node.id, None)
            return None

        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            found: Any = None
            if isinstance(node, ast.Call) and node.args:
                if ast.unparse(node.func) in {"os.environ.get", "os.getenv"}:
                    found = value_of(node.args[0])
            elif isinstance(node, ast.Subscript) and ast.unparse(node.value) == "os.environ":
                found = value_of(node.slice)
            elif isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Name) and re.fullmatch(r"(\w+_)?ENV", target.id):
                        found = value_of(target)
            if isinstance(found, str):
                names.add(found)
            elif isinstance(found, tuple):
                names |= {n for n in found if isinstance(n, str)}
    return names


def test_environment_variables_are_documented() -> None:
    names = environment_variables()
    # The reader's baseline: these must be found, or the scan above is broken.
    assert {"QDREAMER_CONFIG", "RAY_ADDRESS", "IBM_QUANTUM_TOKEN", "AWS_SECRET_ACCESS_KEY"} <= names
    text = DOC.read_text()
    section = text.split("## Environment variables", 1)[1].split("\n## ", 1)[0]
    missing = sorted(n for n in names if f"`{n}`" not in section)
    assert not missing, f"not in docs/configuration.md's environment variables: {missing}"


@pytest.mark.parametrize("path", ["~/.config/qdreamer/config.toml", "$QDREAMER_CONFIG"])
def test_user_file_and_precedence_are_documented(path: str) -> None:
    from pilot.config import USER_CONFIG_ENV, USER_CONFIG_PATH

    assert str(USER_CONFIG_PATH) == "~/.config/qdreamer/config.toml"
    assert USER_CONFIG_ENV == "QDREAMER_CONFIG"
    assert f"`{path}`" in DOC.read_text()
