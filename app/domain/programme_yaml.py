"""Reading a programme file's YAML without letting the file choose how much memory it costs.

`yaml.safe_load` is safe from code execution, not from size: aliases let a 55 KB file stand for
400 × 400 × 400 values (a "billion laughs" bomb), which PyYAML builds as shared references in no
time but which the programme's validation then walks one by one — 6 GB and 87 s. PyYAML has no
limit of its own, so this loader composes the node graph (cheap: aliases stay shared), counts
the values it stands for once expanded (each node counted once per path that reaches it,
memoised so the count itself is linear in the file), and refuses above `MAX_VALUES` before
anything is constructed. Anchors and aliases of an ordinary size stay allowed.

The file's size is capped before parsing, and the document's own caps (segments, items,
speakers) are in `app.domain.programme`.
"""

from __future__ import annotations

from typing import Any

import yaml

MAX_DOCUMENT_BYTES = 1_000_000
# A long programme (50 segments of 20 items with a few speakers each) is about 10,000 values.
MAX_VALUES = 200_000


class DocumentTooLarge(ValueError):
    """The document is refused for its size; the message says which limit and what to do."""


def expanded_size(node: yaml.Node) -> int:
    """How many values `node` stands for once every alias is expanded."""
    sizes: dict[int, int] = {}

    def size(current: yaml.Node) -> int:
        known = sizes.get(id(current))
        if known is not None:
            return known
        sizes[id(current)] = 1  # a node reached again while being counted (a recursive alias)
        total = 1
        if isinstance(current, yaml.SequenceNode):
            total += sum(size(child) for child in current.value)
        elif isinstance(current, yaml.MappingNode):
            total += sum(size(key) + size(value) for key, value in current.value)
        sizes[id(current)] = total
        return total

    return size(node)


def load_programme_yaml(text: str) -> Any:
    """The data of one YAML (or JSON) document, refused with `DocumentTooLarge` beyond the caps.

    Raises `yaml.YAMLError` for what is not YAML, as `yaml.safe_load` does.
    """
    if len(text.encode("utf-8", "surrogatepass")) > MAX_DOCUMENT_BYTES:
        raise DocumentTooLarge(
            f"the document is larger than {MAX_DOCUMENT_BYTES // 1000} KB: a programme is far smaller"
        )
    loader = yaml.SafeLoader(text)
    try:
        try:
            node = loader.get_single_node()
        except RecursionError:
            # PyYAML composes recursively: thousands of nested brackets exhaust Python's stack.
            raise DocumentTooLarge("the document is nested too deeply to be a programme") from None
        if node is None:
            return None
        values = expanded_size(node)
        if values > MAX_VALUES:
            raise DocumentTooLarge(
                f"the document stands for {values:,} values once its aliases (*name) are expanded, "
                f"more than the {MAX_VALUES:,} a programme may have: write the values out instead"
            )
        return loader.construct_document(node)
    finally:
        loader.dispose()
