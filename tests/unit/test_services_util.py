"""``domain_errors``: a broken rule becomes the InvalidInput members are shown; anything
else goes through untouched."""

from __future__ import annotations

import pytest

from bot.domain.errors import DomainError
from bot.errors import InvalidInput
from bot.services._util import domain_errors


def test_a_broken_rule_becomes_invalid_input_with_its_code_and_message() -> None:
    with pytest.raises(InvalidInput) as caught, domain_errors():
        raise DomainError("too_long", "The title is too long.")
    assert caught.value.code == "too_long"
    assert str(caught.value) == "The title is too long."
    assert caught.value.__suppress_context__  # the rule's own traceback stays out of it


def test_other_errors_and_success_pass_through() -> None:
    with pytest.raises(KeyError), domain_errors():
        raise KeyError("x")
    with domain_errors():
        value = 3
    assert value == 3
    with domain_errors(), domain_errors():  # one shared instance, re-entrant
        pass
