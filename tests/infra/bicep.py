"""Reading pycep-parser's JSON of a Bicep file (what bicep_json.py prints).

pycep gives an identifier and a string literal the same form, a bare ``str``: ``name: name`` and ``name: 'name'``
both read ``"name"``. ``Template.is_reference`` tells them apart by what the file declares (parameters, variables,
resources, modules and loop variables); a string that names none of them is a literal.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Resource:
    symbol: str
    type: str
    existing: bool
    body: dict[str, Any]
    loop: dict[str, Any] | None
    condition: Any


@dataclass(frozen=True)
class Module:
    symbol: str
    path: str
    body: dict[str, Any]
    condition: Any


def unwrap(config: Any) -> tuple[Any, dict[str, Any] | None, Any]:
    """A resource's or module's own body, without its ``for`` loop and ``if`` condition."""
    loop = condition = None
    while isinstance(config, dict) and "config" in config and ("loop_type" in config or "condition" in config):
        loop = loop or config.get("loop_type")
        condition = condition if condition is not None else config.get("condition")
        config = config["config"]
    return config, loop, condition


def _loop_names(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("loop_type"), dict):
            for key, value in node["loop_type"].get("detail", {}).items():
                if key.endswith("_name") and key != "array_name" and isinstance(value, str):
                    yield value
        for value in node.values():
            yield from _loop_names(value)
    elif isinstance(node, list):
        for value in node:
            yield from _loop_names(value)


@dataclass
class Template:
    name: str
    path: Path
    data: dict[str, Any]
    text: str = ""
    _symbols: set[str] = field(default_factory=set, init=False)

    def __post_init__(self) -> None:
        self._symbols = {*self.params, *self.variables, *self.data.get("resources", {}),
                         *self.data.get("modules", {}), *_loop_names(self.data)}

    @property
    def scope(self) -> str:
        return str(self.data.get("globals", {}).get("scope", {}).get("value", "resourceGroup"))

    @property
    def params(self) -> dict[str, Any]:
        return self.data.get("parameters", {})  # type: ignore[no-any-return]

    @property
    def variables(self) -> dict[str, Any]:
        return {name: v["value"] for name, v in self.data.get("variables", {}).items()}

    @property
    def outputs(self) -> dict[str, Any]:
        return self.data.get("outputs", {})  # type: ignore[no-any-return]

    @property
    def resources(self) -> list[Resource]:
        found = []
        for symbol, res in self.data.get("resources", {}).items():
            body, loop, condition = unwrap(res["config"])
            found.append(Resource(symbol, res["type"], bool(res["existing"]), body, loop, condition))
        return found

    @property
    def modules(self) -> list[Module]:
        found = []
        for symbol, mod in self.data.get("modules", {}).items():
            body, _, condition = unwrap(mod["config"])
            found.append(Module(symbol, mod["detail"]["path"], body, condition))
        return found

    def resource(self, symbol: str) -> Resource:
        matches = [r for r in self.resources if r.symbol == symbol]
        assert matches, f"{self.name}: no resource {symbol!r}"
        return matches[0]

    def is_reference(self, value: str) -> bool:
        """Whether a bare string is an identifier this file declares (else it is a literal)."""
        return bool(IDENTIFIER.match(value)) and value in self._symbols

    def resolve(self, value: Any) -> Any:
        """Follow variables: a variable's name, or ``var.key`` on an object variable, to its value."""
        if isinstance(value, str) and value in self.variables:
            return self.resolve(self.variables[value])
        accessor = value.get("operator", {}) if isinstance(value, dict) else {}
        if accessor.get("type") == "property_accessor":
            base, key = accessor["operands"]["operand_1"], accessor["operands"]["operand_2"]
            resolved = self.resolve(base)
            if isinstance(resolved, dict) and isinstance(key, str) and key in resolved:
                return self.resolve(resolved[key])
        return value

    def decorators(self, param: str) -> dict[str, Any]:
        return {d["type"]: d.get("argument") for d in self.params[param].get("decorators", [])}


def scope_symbol(value: Any) -> str | None:
    """The resource symbol a ``scope:`` names: ``x``, ``x[i]`` or ``a::b`` (pycep's ``a__b``)."""
    if isinstance(value, str):
        return value
    operator = value.get("operator", {}) if isinstance(value, dict) else {}
    operands = operator.get("operands", {})
    if operator.get("type") == "index_accessor":
        return scope_symbol(operands.get("operand_1"))
    if operator.get("type") == "nested_resource_accessor":
        return f"{operands.get('operand_1')}__{operands.get('operand_2')}"
    return None
