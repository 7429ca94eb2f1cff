"""What the log scrubber masks in free text (exception messages, reprs, URLs): secrets
named in any of the shapes they take, spaces included."""

from __future__ import annotations

import pytest

from infra.observability.logging import REDACTED, scrub_text

SECRET = "correct horse battery staple"


@pytest.mark.parametrize("text", [
    f"password={SECRET}",  # free text: the rest of the line
    f"login failed: password={SECRET}\nnext line stays",
    f"RegisterUser(email='a@b.c', password='{SECRET}')",  # a dataclass's repr
    f'{{"email": "a@b.c", "password": "{SECRET}"}}',  # JSON
    f"{{'email': 'a@b.c', 'password': '{SECRET}'}}",  # a dict's repr
    f'password="{SECRET}"',
])
def test_a_password_is_masked_whole_in_every_shape(text: str) -> None:
    cleaned = scrub_text(text)
    for word in SECRET.split():
        assert word not in cleaned, cleaned
    assert REDACTED in cleaned
    assert "a@b.c" in cleaned or "a@b.c" not in text  # what is not secret stays


def test_tokens_keys_and_the_rest_of_the_line() -> None:
    cleaned = scrub_text("GET /ws?token=abc.def.ghi&room=7 key=live_0123456789abcdefXYZ ok")
    assert "abc.def.ghi" not in cleaned and "live_0123456789abcdefXYZ" not in cleaned
    assert "room=7" in cleaned and cleaned.endswith("ok")
    assert "next line stays" in scrub_text("password=x y\nnext line stays")


def test_a_secret_holding_separators_is_masked_whole() -> None:
    assert scrub_text("Authorization: Bearer abcdefgh12345=") == f"Authorization: Bearer {REDACTED}"
    cleaned = scrub_text("{'password': 'a=b:c d'}")
    assert "a=b" not in cleaned and "c d" not in cleaned and cleaned.startswith("{'password':")
