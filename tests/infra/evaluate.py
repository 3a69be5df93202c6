"""A small evaluator of the Bicep expressions the templates use, over pycep's JSON: what a value becomes at
deployment, given the parameters (``env``). It knows property and index access, the conditional, ``!``, ``==``,
loops, interpolation of simple paths, and the functions listed in ``_function``; anything else raises
``Unsupported``. A name it does not know stays as written (a parameter left symbolic)."""

from __future__ import annotations

import re
from typing import Any

import yaml

from tests.infra.bicep import Template

# what uniqueString() returns in length (13 characters); its value here is a stand-in
UNIQUE_STRING = "u4xq7mbe2kz0a"


class Unsupported(Exception):
    pass


def _path(expr: str, env: dict[str, Any], t: Template) -> Any:
    """``${a.b}``: a loop variable or parameter in env, or a variable; anything else stays as written."""
    head, *rest = expr.split(".")
    if head in env:
        value = env[head]
    elif head in t.variables:
        value = evaluate(t.variables[head], env, t)
    else:
        return "${" + expr + "}"
    for key in rest:
        value = value[key]
    return value


def _interpolate(text: str, env: dict[str, Any], t: Template) -> str:
    def one(match: re.Match[str]) -> str:
        inner = match.group(1)
        if re.fullmatch(r"[\w.]+", inner):
            return str(_path(inner, env, t))
        indexed = re.fullmatch(r"(\w+)\[(\w+)\]", inner)
        if indexed:
            return str(_path(indexed.group(1), env, t)[_path(indexed.group(2), env, t)])
        return match.group(0)
    return re.sub(r"\$\{([^}]*)\}", one, text)


def evaluate(expr: Any, env: dict[str, Any], t: Template) -> Any:
    if expr is None or isinstance(expr, bool | int | float):
        return expr
    if isinstance(expr, str):
        if expr in env:
            return env[expr]
        if expr in t.variables:
            return evaluate(t.variables[expr], env, t)
        return _interpolate(expr, env, t)
    if isinstance(expr, list):
        return [evaluate(e, env, t) for e in expr]
    if "loop_type" in expr:
        detail = expr["loop_type"]["detail"]
        items = evaluate(detail["array_name"], env, t)
        out = []
        for index, item in enumerate(items):
            scope = {**env, detail["item_name"]: item}
            if "index_name" in detail:
                scope[detail["index_name"]] = index
            out.append(evaluate(expr["config"], scope, t))
        return out
    if "operator" in expr:
        return _operator(expr["operator"]["type"], expr["operator"]["operands"], env, t)
    if "function" in expr:
        return _function(expr["function"], env, t)
    return {key: evaluate(value, env, t) for key, value in expr.items()}


def _access(base: Any, key: Any, env: dict[str, Any], t: Template) -> Any:
    """``base.key``; pycep nests a chain ``a.b.c`` to the right: (a, (b, c))."""
    if isinstance(key, dict) and key.get("operator", {}).get("type") == "property_accessor":
        inner = key["operator"]["operands"]
        return _access(_access(base, inner["operand_1"], env, t), inner["operand_2"], env, t)
    if isinstance(base, str):  # a parameter left symbolic
        return f"{base}.{key}"
    return base[key]


def _operator(kind: str, ops: dict[str, Any], env: dict[str, Any], t: Template) -> Any:
    if kind == "property_accessor":
        return _access(evaluate(ops["operand_1"], env, t), ops["operand_2"], env, t)
    if kind == "index_accessor":
        return evaluate(ops["operand_1"], env, t).get(evaluate(ops["operand_2"], env, t))
    if kind == "conditional":
        branch = "true_value" if evaluate(ops["condition"], env, t) else "false_value"
        return evaluate(ops[branch], env, t)
    if kind == "not":
        return not evaluate(ops["bool_value"], env, t)
    if kind == "equals":
        return evaluate(ops["operand_1"], env, t) == evaluate(ops["operand_2"], env, t)
    raise Unsupported(kind)


def _positional(args: dict[str, Any], env: dict[str, Any], t: Template) -> list[Any]:
    """The values of pycep's arg_1, arg_2, ... in order."""
    numbered = sorted((int(k.removeprefix("arg_")), v) for k, v in args.items() if k.startswith("arg_"))
    return [evaluate(v, env, t) for _, v in numbered]


def _function(function: dict[str, Any], env: dict[str, Any], t: Template) -> Any:
    kind, args = function["type"], function.get("parameters", {})

    def arg(name: str) -> Any:
        return evaluate(args[name], env, t)

    if kind == "load_yaml_content":
        return yaml.safe_load((t.path.parent / args["file_path"]).read_text())
    if kind == "empty":
        return not arg("item_to_test")
    if kind == "contains":
        return arg("item_to_find") in arg("container")
    if kind == "to_upper":
        return str(arg("string_to_change")).upper()
    if kind == "to_lower":
        return str(arg("string_to_change")).lower()
    if kind == "format":
        return str(args["format_string"]).format(*_positional(args, env, t))
    if kind == "concat":
        parts = _positional(args, env, t)
        return [x for part in parts for x in part] if all(isinstance(p, list) for p in parts) else "".join(parts)
    if kind == "take":
        return arg("original_value")[: int(arg("number_to_take"))]
    if kind == "replace":
        return str(arg("original_string")).replace(arg("old_string"), arg("new_string"))
    if kind == "unique_string":
        return UNIQUE_STRING
    if kind == "resource_group":
        return "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg"
    raise Unsupported(kind)
