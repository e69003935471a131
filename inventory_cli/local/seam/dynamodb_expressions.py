"""DynamoDB update expressions in moto, at the same answers for less work.

Under a big load most of the emulator's time went into moto's update expressions (the
summaries' drain transactions are a hundred row updates each): every UpdateItem parsed its
expression twice (once in the request handler to check the names and values it uses, once in
the backend), and each of the ten processors that validate and execute it walked the tree
asking, for every node, an `isinstance` of abstract classes against a tuple built anew per node.

- Parsing: the tree of an expression text is kept (up to 4,096 texts). moto never changes a
  parsed tree: its validator works on a deep copy (`Validator.__init__`), the handler only
  reads clauses. Errors are not kept: a wrong expression raises each time.
- Copying: a validator copies the tree before changing it; node by node here (the generic
  `copy.deepcopy` took as long as parsing and validating together).
- Walking: which handler of a processor a node type gets is decided once per processor class
  and node type, with the same rule as moto's (`nodes_to_be_processed`, then the first key of
  `_processing_map` the node is an instance of). Same nodes, same order, same hooks.

`tests/local/test_dynamodb_expressions.py` runs a list of update expressions (valid and not)
through plain moto in another process and through the emulator's moto, and compares every
item and every error.
"""

from __future__ import annotations

import copy
import functools
from typing import Any


def install() -> None:
    from moto.dynamodb.parsing import ast_nodes, expressions

    # moto's parsing modules carry no type information mypy can follow.
    parser: Any = getattr(expressions, "UpdateExpressionParser")  # noqa: B009
    _upstream_make.append(parser.make.__func__)
    parser.make = classmethod(_make)
    _node_class.append(getattr(ast_nodes, "Node"))  # noqa: B009
    traverser: Any = getattr(ast_nodes, "DepthFirstTraverser")  # noqa: B009
    traverser.traverse_node_recursively = _traverse_node_recursively
    from moto.dynamodb.parsing import validators

    setattr(validators, "deepcopy", _copy)  # noqa: B010 - the name its validators call


# -- copying a tree for a validator ---------------------------------------------------------

_SHARED = (str, int, float, bool, type(None))


def _copy(value: Any, memo: Any = None) -> Any:
    """What moto's validators deep-copy: the whole parsed tree, once per update (before it is
    changed in place), and list values. A tree is copied node by node (a node holds its type
    name, its children and its parent), faster than `copy.deepcopy`'s generic walk; anything
    else, or a subtree with a parent above it, as `copy.deepcopy` copies it."""
    if _node_type(type(value)) and value.parent is None:
        return _copy_node(value, None)
    return copy.deepcopy(value, memo)


def _copy_node(node: Any, parent: Any) -> Any:
    copied = object.__new__(type(node))
    copied.__dict__.update(node.__dict__)
    copied.parent = parent
    if node.children is not None:
        copied.children = [
            _copy_node(child, copied) if _node_type(type(child))
            else child if isinstance(child, _SHARED) else copy.deepcopy(child)
            for child in node.children]
    return copied


# -- parsing: one tree per expression text ---------------------------------------------------

_upstream_make: list[Any] = []


@functools.lru_cache(maxsize=4096)
def _parsed(cls: type, expression: str) -> Any:
    return _upstream_make[0](cls, expression)


def _make(cls: type, expression_str: Any) -> Any:
    if not isinstance(expression_str, str):
        return _upstream_make[0](cls, expression_str)
    return _parsed(cls, expression_str)


# -- walking: each processor's method for a node type, found once -----------------------------

_node_class: list[type] = []
_is_node: dict[type, bool] = {}
# (processor class, node type) -> the name of the processor's method for it, or None. A
# validator builds new processors for every expression, so this is kept per class; the methods
# moto maps are the processor's own (bound to it), which is what makes a name enough.
_methods: dict[tuple[type, type], str | None] = {}


def _node_type(kind: type) -> bool:
    known = _is_node.get(kind)
    if known is None:
        known = _is_node[kind] = issubclass(kind, _node_class[0])
    return known


def _handler(processor: Any, kind: type) -> Any:
    key = (type(processor), kind)
    if key in _methods:
        name = _methods[key]
        return None if name is None else getattr(processor, name)
    found = None
    if issubclass(kind, processor.nodes_to_be_processed()):
        for class_key, process in processor._processing_map().items():
            if issubclass(kind, class_key):
                found = process
                break
    if found is None or getattr(found, "__self__", None) is processor:
        _methods[key] = None if found is None else found.__name__
    return found


def _traverse_node_recursively(self: Any, node: Any, child_id: int = -1) -> Any:
    """moto's `DepthFirstTraverser.traverse_node_recursively`, with the handler looked up once
    per node type."""
    if _node_type(type(node)):
        parent_node = node.parent
        if node.children is not None:
            for i, child_node in enumerate(node.children):
                self.pre_processing_of_child(node, i)
                self.traverse_node_recursively(child_node, i)
        process = _handler(self, type(node))
        if process is not None:
            node = process(node)
            node.parent = parent_node
            if parent_node:
                parent_node.children[child_id] = node
    return node
