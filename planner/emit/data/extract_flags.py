"""Regenerate the checked-in flag lists from an unpacked vLLM or SGLang wheel, without running it.

    pip download --no-deps vllm==0.32.0 && unzip -q vllm-0.32.0-*.whl -d vllm-src
    python planner/emit/data/extract_flags.py vllm 0.32.0 vllm-src > planner/emit/data/vllm-0.32.0-flags.txt
    pip download --no-deps sglang==0.5.23 && unzip -q sglang-0.5.23-*.whl -d sglang-src
    python planner/emit/data/extract_flags.py sglang 0.5.23 sglang-src > planner/emit/data/sglang-0.5.23-flags.txt

It reads the engines' argparse definitions with `ast` (string literals of every `add_argument`
call, vLLM's `FrontendArgs` dataclass fields, the config dataclass field types that make a flag a
`--x/--no-x` boolean or give it fixed choices) and the parser registries. Maintainer tool only:
nothing imports it.
"""

from __future__ import annotations

import ast
import datetime
import sys
from pathlib import Path

VLLM_CLI_ARGS = (
    "vllm/entrypoints/openai/cli_args.py",  # up to 0.2x
    "vllm/entrypoints/launchers/cli_args.py",  # 0.3x
    "vllm/entrypoints/common/cli_args.py",  # 0.34
)
"""Where `make_arg_parser` and `FrontendArgs` live, by release (the first that exists is read)."""
VLLM_ARG_UTILS = "vllm/engine/arg_utils.py"
SGLANG_FILE = "python/sglang/srt/server_args.py"


def _parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"))


def _add_argument_calls(tree: ast.AST) -> list[tuple[ast.Call, list[str]]]:
    """Every `*.add_argument("--x", ...)` call under `tree`, with its option names."""
    calls = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "add_argument":
            names = [a.value for a in node.args if isinstance(a, ast.Constant) and str(a.value).startswith("-")]
            if names:
                calls.append((node, names))
    return calls


def _literal_values(node: ast.AST, aliases: dict[str, list[str]]) -> list[str] | None:
    """Choices of an annotation that is Literal[...], an alias of one, or either | None."""
    if isinstance(node, ast.Subscript) and getattr(node.value, "id", None) == "Literal":
        elts = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        return [e.value for e in elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
    if isinstance(node, ast.Name):
        return aliases.get(node.id)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        parts = [node.left, node.right]
        non_none = [p for p in parts if not (isinstance(p, ast.Constant) and p.value is None)]
        if len(non_none) == 1:
            return _literal_values(non_none[0], aliases)
    return None


def _is_bool(node: ast.AST) -> bool:
    if isinstance(node, ast.Name):
        return node.id == "bool"
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return _is_bool(node.left) or _is_bool(node.right)
    return False


def _vllm_field_types(root: Path) -> tuple[dict[str, dict[str, ast.AST]], dict[str, list[str]]]:
    """class name -> field -> annotation, and Literal aliases, over vllm/config and the CLI files."""
    classes: dict[str, dict[str, ast.AST]] = {}
    aliases: dict[str, list[str]] = {}
    paths = sorted((root / "vllm" / "config").glob("*.py")) + [_vllm_cli_args(root), root / VLLM_ARG_UTILS]
    for path in paths:
        for node in _parse(path).body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                values = _literal_values(node.value, aliases)
                if values:
                    aliases[node.targets[0].id] = values
            elif isinstance(node, ast.ClassDef):
                fields = classes.setdefault(node.name, {})
                for base in node.bases:  # inherited dataclass fields (FrontendArgs(BaseFrontendArgs) in 0.3x)
                    if isinstance(base, ast.Name) and base.id in classes:
                        fields.update(classes[base.id])
                for item in node.body:
                    if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                        fields[item.target.id] = item.annotation
    return classes, aliases


def _vllm_cli_args(root: Path) -> Path:
    for relative in VLLM_CLI_ARGS:
        if (root / relative).exists():
            return root / relative
    raise SystemExit(f"{root}: none of {', '.join(VLLM_CLI_ARGS)} exists")


def _registry_keys(path: Path, name: str) -> list[str]:
    for node in ast.walk(_parse(path)):
        targets = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AnnAssign):
            targets = [node.target]
        if any(getattr(t, "id", None) == name for t in targets) and isinstance(node.value, ast.Dict):
            return [k.value for k in node.value.keys if isinstance(k, ast.Constant)]
    raise SystemExit(f"{path}: {name} not found")


def vllm_lines(root: Path) -> list[str]:
    classes, aliases = _vllm_field_types(root)
    lines: list[str] = []

    def add(names: list[str], annotation: ast.AST | None, has_action: bool) -> None:
        line = " ".join(names)
        if annotation is not None and _is_bool(annotation) and not has_action:
            line += " " + " ".join("--no-" + n[2:] for n in names if n.startswith("--"))
        choices = _literal_values(annotation, aliases) if annotation is not None else None
        if choices:
            line += " choices=" + ",".join(choices)
        lines.append(line)

    cli_args = _parse(_vllm_cli_args(root))
    for node in ast.walk(cli_args):
        if isinstance(node, ast.FunctionDef) and node.name == "make_arg_parser":
            for _call, names in _add_argument_calls(node):
                add(names, None, True)
    for name, annotation in classes["FrontendArgs"].items():
        add(["--" + name.replace("_", "-")], annotation, False)

    arg_utils = _parse(root / VLLM_ARG_UTILS)
    kwargs_class: dict[str, str] = {}
    for node in ast.walk(arg_utils):
        if (
            isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Call)
            and getattr(node.value.func, "id", None) == "get_kwargs"
            and isinstance(node.targets[0], ast.Name)
        ):
            kwargs_class[node.targets[0].id] = node.value.args[0].id
    for node, names in _add_argument_calls(arg_utils):
        annotation = None
        has_action = any(k.arg == "action" for k in node.keywords)
        for keyword in node.keywords:
            value = keyword.value
            if keyword.arg is None and isinstance(value, ast.Subscript) and isinstance(value.value, ast.Name):
                cls = kwargs_class.get(value.value.id)
                field = value.slice.value if isinstance(value.slice, ast.Constant) else None
                annotation = classes.get(cls, {}).get(field) if cls and field else None
        add(names, annotation, has_action)
    lines.append("@reasoning-parser " + " ".join(_registry_keys(root / "vllm/reasoning/__init__.py", "_REASONING_PARSERS_TO_REGISTER")))
    lines.append("@tool-call-parser " + " ".join(_registry_keys(root / "vllm/tool_parsers/__init__.py", "_TOOL_PARSERS_TO_REGISTER")))
    return lines


def sglang_lines(root: Path) -> list[str]:
    server_args = root / SGLANG_FILE
    if not server_args.exists():
        server_args = root / "sglang/srt/server_args.py"  # wheel layout
    tree = _parse(server_args)
    constants: dict[str, list[str]] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.List) and isinstance(node.targets[0], ast.Name):
            values = [e.value for e in node.value.elts if isinstance(e, ast.Constant)]
            constants[node.targets[0].id] = [str(v) for v in values]
    srt = server_args.parent
    constants["reasoning"] = _registry_keys(srt / "parser/reasoning_parser.py", "DetectorMap")
    constants["tool_call"] = _registry_keys(srt / "function_call/function_call_parser.py", "ToolCallParserEnum")
    lines = []
    for node, names in _add_argument_calls(tree):
        line = " ".join(names)
        for keyword in node.keywords:
            if keyword.arg != "choices":
                continue
            value = keyword.value
            choices = None
            if isinstance(value, ast.List):
                choices = [str(e.value) for e in value.elts if isinstance(e, ast.Constant)]
            elif "ReasoningParser" in ast.unparse(value):
                choices = constants["reasoning"]
            elif "tool_call_parser_choices" in ast.unparse(value):
                choices = constants["tool_call"]
            elif isinstance(value, ast.Name):
                choices = constants.get(value.id)
            if choices:
                line += " choices=" + ",".join(choices)
        lines.append(line)
    fields_dir = srt / "arg_groups" / "fields"
    if fields_dir.is_dir():  # 0.5.2x: most options are declared as annotated dataclass fields
        choices_file = srt / "arg_groups" / "choices.py"
        if choices_file.exists():
            for node in _parse(choices_file).body:
                if isinstance(node, ast.Assign) and isinstance(node.value, ast.List) and isinstance(node.targets[0], ast.Name):
                    constants[node.targets[0].id] = [str(e.value) for e in node.value.elts if isinstance(e, ast.Constant)]
        declared = {line.split()[0] for line in lines}
        for path in sorted(fields_dir.glob("*.py")):
            lines += [line for line in _sglang_field_lines(_parse(path), constants) if line.split()[0] not in declared]
    lines.append("@reasoning-parser " + " ".join(constants["reasoning"]))
    lines.append("@tool-call-parser " + " ".join(constants["tool_call"]))
    return lines


def _sglang_field_lines(tree: ast.Module, constants: dict[str, list[str]]) -> list[str]:
    """CLI options of SGLang 0.5.2x's `A[type, "help" | Arg(...)]` fields (arg_groups/arg_utils.py
    add_cli_args_from_dataclass: `--field-name` or Arg.cli_name, Arg.aliases, Literal types as choices,
    bools as store_true, Arg.no_cli skipped)."""
    lines = []
    for cls in [n for n in tree.body if isinstance(n, ast.ClassDef)]:
        for item in cls.body:
            if not (isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name)):
                continue
            ann = item.annotation
            if not (isinstance(ann, ast.Subscript) and getattr(ann.value, "id", None) in ("A", "Annotated")):
                continue
            parts = ann.slice.elts if isinstance(ann.slice, ast.Tuple) else [ann.slice]
            field_type, meta = parts[0], parts[1:]
            arg = next((m for m in meta if isinstance(m, ast.Call) and getattr(m.func, "id", None) == "Arg"), None)
            if arg is None and not any(isinstance(m, ast.Constant) and isinstance(m.value, str) for m in meta):
                continue
            keywords = {k.arg: k.value for k in arg.keywords} if arg is not None else {}
            if isinstance(keywords.get("no_cli"), ast.Constant) and keywords["no_cli"].value:
                continue
            name = keywords["cli_name"].value if isinstance(keywords.get("cli_name"), ast.Constant) else (
                "--" + item.target.id.replace("_", "-"))
            names = [name]
            if isinstance(keywords.get("aliases"), ast.List):
                names += [e.value for e in keywords["aliases"].elts if isinstance(e, ast.Constant)]
            line = " ".join(names)
            choices = _literal_values(field_type, {})
            value = keywords.get("choices")
            if isinstance(value, ast.List):
                choices = [str(e.value) for e in value.elts if isinstance(e, ast.Constant)]
            elif isinstance(value, ast.Name):
                choices = constants.get(value.id, choices)
            if choices and "action" not in keywords:
                line += " choices=" + ",".join(str(c) for c in choices)
            lines.append(line)
    return lines


HEADERS = {
    "vllm": (
        "# vLLM {version}: every option `vllm serve` accepts.\n"
        "# source: PyPI vllm=={version} wheel (vllm-{version}-cp38-abi3-manylinux_*_x86_64.whl), files\n"
        "#   vllm/entrypoints/*/cli_args.py (make_arg_parser, FrontendArgs), vllm/engine/arg_utils.py\n"
        "#   (EngineArgs.add_cli_args), vllm/config/*.py (field types), vllm/reasoning/__init__.py and\n"
        "#   vllm/tool_parsers/__init__.py (parser registries); rendered at https://docs.vllm.ai/en/v{version}/cli/serve/\n"
    ),
    "sglang": (
        "# SGLang {version}: every option `python -m sglang.launch_server` accepts.\n"
        "# source: PyPI sglang=={version} wheel (sglang-{version}-*.whl), files\n"
        "#   sglang/srt/server_args.py (ServerArgs.add_cli_args), sglang/srt/parser/reasoning_parser.py\n"
        "#   (ReasoningParser.DetectorMap), sglang/srt/function_call/function_call_parser.py (ToolCallParserEnum);\n"
        "#   rendered at https://docs.sglang.ai/advanced_features/server_arguments.html\n"
    ),
}


def main(argv: list[str]) -> None:
    engine, version, root = argv[0], argv[1], Path(argv[2])
    lines = vllm_lines(root) if engine == "vllm" else sglang_lines(root)
    sys.stdout.write(HEADERS[engine].format(version=version))
    sys.stdout.write(
        f"# extracted: {datetime.date.today().isoformat()} by planner/emit/data/extract_flags.py (ast; the engine was not run)\n"
        "# format: one option per line, aliases separated by spaces, then `choices=a,b` when argparse fixes them;\n"
        "#   `@reasoning-parser` / `@tool-call-parser` lines list the built-in parser names.\n"
    )
    sys.stdout.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
