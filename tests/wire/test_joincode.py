"""Join codes: 75 random bits, forgiving to retype, hashed with the study id."""

from __future__ import annotations

import re

import pytest

from ime_wire import joincode

STUDY = "0123456789abcdef0123456789abcdef"


def test_codes_are_15_crockford_characters_in_three_groups_and_at_least_72_bits():
    codes = {joincode.new_code() for _ in range(200)}
    assert len(codes) == 200
    assert all(re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}", c) for c in codes)
    assert joincode.BITS >= 72 and len(joincode.ALPHABET) == 32


def test_retyping_forgives_case_dashes_blanks_and_look_alikes():
    assert joincode.normalise(" 0ab1c-defgh-jkmnp ") == "0AB1CDEFGHJKMNP"
    assert joincode.normalise("oab1c defgh jkmnp") == "0AB1CDEFGHJKMNP"
    assert joincode.normalise("0ABIC-DEFGH-JKMNP") == joincode.normalise("0ABLC-DEFGH-JKMNP") == "0AB1CDEFGHJKMNP"
    assert joincode.code_hash(STUDY, "0ab1c-defgh-jkmnp") == joincode.code_hash(STUDY, "0AB1CDEFGHJKMNP")


@pytest.mark.parametrize("text", ["", "0AB1C-DEFGH", "0AB1C-DEFGH-JKMNPQ", "0AB1C-DEFGH-JKMNU", None, 12345])
def test_what_is_not_a_code_is_refused(text):
    with pytest.raises(ValueError, match="join code"):
        joincode.normalise(text)


def test_the_hash_binds_the_study():
    code = joincode.new_code()
    other = "f" * 32
    assert re.fullmatch(r"[0-9a-f]{64}", joincode.code_hash(STUDY, code))
    assert joincode.code_hash(STUDY, code) != joincode.code_hash(other, code)
