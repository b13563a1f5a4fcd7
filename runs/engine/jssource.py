"""What a k6 script says, read with a real JavaScript/TypeScript parser (tree-sitter).

The findings and the module resolver need the module specifiers a file
imports, the paths it `open()`s and its string literals, each with where it
is. A parser sees code as code: a URL in a comment, a `"key":` in a JSON
literal or a ternary in a `console.log` is never mistaken for an import or a
file write. Offsets are byte offsets into the UTF-8 source.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache

import tree_sitter
import tree_sitter_javascript
import tree_sitter_typescript

TYPESCRIPT_SUFFIXES = (".ts", ".mts", ".cts")
REQUIRE_CALLEES = {"require"}
QUOTES = (b'"', b"'", b"`")
OPEN_CALLEES = {"open"}  # k6's global open(); `fs.open` (k6/experimental/fs) reads the same files


@dataclass(frozen=True)
class Literal:
    """A string literal's value and where its content sits (between the quotes)."""

    value: str
    start: int
    end: int
    line: int


@dataclass(frozen=True)
class SourceFacts:
    imports: tuple[Literal, ...]  # static and dynamic import specifiers, export-from and require()
    opened: tuple[Literal, ...]  # open("…") paths given as literals
    strings: tuple[Literal, ...]  # every plain string literal (template literals without substitutions too)
    syntax_error_line: int | None  # the first line the parser could not read, if any


@cache
def _parser(typescript: bool) -> tree_sitter.Parser:
    grammar = tree_sitter_typescript.language_typescript() if typescript else tree_sitter_javascript.language()
    return tree_sitter.Parser(tree_sitter.Language(grammar))


def read_source(source: bytes, filename: str) -> SourceFacts:
    tree = _parser(filename.endswith(TYPESCRIPT_SUFFIXES)).parse(source)
    imports: list[Literal] = []
    opened: list[Literal] = []
    strings: list[Literal] = []
    for node in _walk(tree.root_node):
        if node.type in ("import_statement", "export_statement"):
            if (specifier := node.child_by_field_name("source")) is not None and (literal := _literal(specifier)):
                imports.append(literal)
        elif node.type == "call_expression":
            _call(node, imports, opened)
        elif node.type in ("string", "template_string") and (literal := _literal(node)):
            strings.append(literal)
    return SourceFacts(tuple(imports), tuple(opened), tuple(strings), _first_error_line(tree.root_node))


def _call(node: tree_sitter.Node, imports: list[Literal], opened: list[Literal]) -> None:
    callee = node.child_by_field_name("function")
    arguments = node.child_by_field_name("arguments")
    if callee is None or arguments is None:
        return
    first = next((child for child in arguments.named_children if child.type != "comment"), None)
    literal = _literal(first) if first is not None else None
    if literal is None:
        return
    name = _callee_name(callee)
    if callee.type == "import" or name in REQUIRE_CALLEES:
        imports.append(literal)
    elif name in OPEN_CALLEES:
        opened.append(literal)


def _callee_name(callee: tree_sitter.Node) -> str:
    if callee.type == "identifier":
        return _text(callee)
    if callee.type == "member_expression" and (prop := callee.child_by_field_name("property")) is not None:
        return _text(prop)
    return ""


def _literal(node: tree_sitter.Node) -> Literal | None:
    """A string literal's value, or None for anything computed (a template with `${…}` included)."""
    if (node.text or b"")[:1] not in QUOTES:  # TypeScript's `string` type is a "string" node too
        return None
    if node.type == "string":
        fragments = [child for child in node.named_children if child.type in ("string_fragment", "escape_sequence")]
    elif node.type == "template_string":
        if any(child.type == "template_substitution" for child in node.named_children):
            return None
        fragments = [child for child in node.named_children if child.type in ("string_fragment", "escape_sequence")]
    else:
        return None
    value = "".join(_unescape(child) for child in fragments)
    return Literal(value, node.start_byte + 1, node.end_byte - 1, node.start_point.row + 1)


def _unescape(node: tree_sitter.Node) -> str:
    text = _text(node)
    if node.type != "escape_sequence":
        return text
    try:
        return text.encode("latin-1", "backslashreplace").decode("unicode_escape")
    except UnicodeDecodeError:
        return text[1:]


def _text(node: tree_sitter.Node) -> str:
    return (node.text or b"").decode("utf-8", "replace")


def _walk(root: tree_sitter.Node) -> Iterator[tree_sitter.Node]:
    cursor = root.walk()
    while True:
        assert cursor.node is not None
        yield cursor.node
        if cursor.goto_first_child():
            continue
        while not cursor.goto_next_sibling():
            if not cursor.goto_parent():
                return


def _first_error_line(root: tree_sitter.Node) -> int | None:
    if not root.has_error:
        return None
    for node in _walk(root):
        if node.type == "ERROR" or node.is_missing:
            return node.start_point.row + 1
    return None
