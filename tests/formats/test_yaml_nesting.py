"""The nesting limit is checked while composing (one pass): exactly at MAX_NESTING, in flow and block style,
below libyaml's own limit (so the composer's own check answers, not libyaml's refusal)."""

import pytest

from p2ptui.errors import InputError
from p2ptui.formats.yaml_text import MAX_NESTING, compose


def _block(depth: int) -> str:
    """``depth`` nested block sequences: "- - - x" would do too; one per line shows the line in the error."""
    return "".join("  " * i + "-\n" for i in range(depth - 1)) + "  " * (depth - 1) + "- leaf\n"


@pytest.mark.parametrize("style", ["flow", "block"])
def test_the_limit_itself_is_allowed_and_one_more_is_refused_at_its_place(style):
    make = (lambda d: "[" * d + "x" + "]" * d) if style == "flow" else _block
    node = compose(make(MAX_NESTING), "ok.yaml")
    for _ in range(MAX_NESTING - 1):
        (node,) = node.value
    assert node.value[0].value == ("x" if style == "flow" else "leaf")
    with pytest.raises(InputError) as info:
        compose(make(MAX_NESTING + 1), "deep.yaml")
    (diag,) = info.value.diagnostics
    assert diag.message == f"nested more than {MAX_NESTING} levels deep"
    where = (1, MAX_NESTING + 1) if style == "flow" else (MAX_NESTING + 1, 2 * MAX_NESTING + 1)
    assert (diag.location.file, diag.location.line, diag.location.column) == ("deep.yaml", *where)


def test_a_syntax_error_after_deep_but_allowed_nesting_is_still_a_syntax_error():
    with pytest.raises(InputError) as info:
        compose("[" * MAX_NESTING + "x" + "]" * (MAX_NESTING - 1) + "\n: : :", "bad.yaml")
    assert "YAML syntax error" in info.value.diagnostics[0].message
