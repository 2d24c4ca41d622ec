"""Values under a secret-like key: every terminator, every first character, quoted identifiers (issue 17)."""

from __future__ import annotations

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from secure_mcp.redaction import Redactor, marker
from tests.properties import examples

REDACTOR = Redactor()
MASK = marker("password_assignment")


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("docker run -e 'API_TOKEN=Xk29fLq0PzW7' alpine", "Xk29fLq0PzW7"),
        ('docker run -e "API_TOKEN=Xk29fLq0PzW7" alpine', "Xk29fLq0PzW7"),
        ('    environment:\n      - "POSTGRES_PASSWORD=Vb81nQ2mZr5t"\n', "Vb81nQ2mZr5t"),
        ("<td>password=Hq7Lp2Ns9Wx4</td>", "Hq7Lp2Ns9Wx4"),
        ('<a href="https://x.example/cb?access_token=Tz6Rm1Kd8Yq3">go</a>', "Tz6Rm1Kd8Yq3"),
        ("run(secret=Jw5Gc0Fv3Ub8)", "Jw5Gc0Fv3Ub8"),
        ("[api_key=Pn4Ex7Ha2Lc9]", "Pn4Ex7Ha2Lc9"),
        ("{token=Md3Sb6Qf1Zk0}", "Md3Sb6Qf1Zk0"),
        ("`DB_PASSWORD=Ra9Ty2Wu5Io8`", "Ra9Ty2Wu5Io8"),
    ],
)
def test_key_value_followed_by_quote_bracket_paren_backtick_or_angle_is_masked(text: str, secret: str) -> None:
    """The value ends where the quoting around the whole assignment ends, and is masked."""
    result = REDACTOR.redact(text)
    assert secret not in result.text
    assert MASK in result.text


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("DB_PASSWORD=%oBkfba9OXKzZutdbX\n", "%oBkfba9OXKzZutdbX"),
        ("DB_PASSWORD=#k5Q!auPUBssnZO1UR\n", "#k5Q!auPUBssnZO1UR"),
        ("DB_PASSWORD=!abc#def%ghi\n", "!abc#def%ghi"),
        ("export API_KEY=$x7Yq!pL0#z\n", "$x7Yq!pL0#z"),
        ("password: %oBkfba9OXKzZutdbX\n", "%oBkfba9OXKzZutdbX"),
        ("password = #k5Q!auPUBssnZO1UR\n", "#k5Q!auPUBssnZO1UR"),
    ],
)
def test_value_starting_with_or_holding_punctuation_is_masked_whole(text: str, secret: str) -> None:
    """A password is whatever follows the key, however it starts; '#' inside it is no comment."""
    result = REDACTOR.redact(text)
    assert secret[1:] not in result.text
    assert secret[-6:] not in result.text
    assert MASK in result.text


def test_hash_after_whitespace_starts_a_comment() -> None:
    """In an unquoted dotenv value '#' after whitespace is a comment, which stays readable."""
    result = REDACTOR.redact("DB_PASSWORD=Yt3Lq8Pw1Mz6 # rotate monthly\n")
    assert "Yt3Lq8Pw1Mz6" not in result.text
    assert result.text == f"DB_PASSWORD={MASK} # rotate monthly\n"


TEMPLATES = (
    "APP_NAME=demo\nDB_PASSWORD={p}\nDB_HOST=db\n",
    "export DB_PASSWORD={p}\n",
    "docker run -e 'DB_PASSWORD={p}' postgres\n",
    '    environment:\n      - "POSTGRES_PASSWORD={p}"\n',
    "<td>password={p}</td>",
)


@settings(max_examples=examples(500), deadline=None)
@given(
    st.text(alphabet=string.ascii_letters + string.digits + "#%!", min_size=18, max_size=18),
    st.sampled_from(TEMPLATES),
)
def test_every_random_18_character_password_is_masked(password: str, template: str) -> None:
    """Property: any password drawn from letters, digits and '#%!' is masked whole (issue 17)."""
    text = template.format(p=password)
    result = REDACTOR.redact(text)
    assert password not in result.text
    assert result.text == text.replace(password, MASK)


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ('{"password": "MyPassw0rd"}', "MyPassw0rd"),
        ('{"password": "Summer2024"}', "Summer2024"),
        ("password: 'SecretValue'", "SecretValue"),
        ('db_password = "admin_user"', "admin_user"),
        ('api_key: "some.value"', "some.value"),
    ],
)
def test_quoted_value_under_a_secret_key_is_masked_even_if_it_looks_like_an_identifier(
    text: str, secret: str
) -> None:
    """A quoted value is a literal, never a variable: under a secret-like key it is a secret."""
    result = REDACTOR.redact(text)
    assert secret not in result.text
    assert MASK in result.text


@pytest.mark.parametrize(
    "text",
    [
        "password = get_password()",
        "token: str",
        "password: SecretStr",
        'password: "${DB_PASSWORD}"',
        '{"password": "********"}',
        '{"password": "<your password>"}',
        '{"password": ""}',
        "secret_key = os.environ['SECRET_KEY']",
        "PASSWORD=  # set me\n",
        'token = "{{ vault_token }}"',
        "            secret=secret,",
        "            private_key=None,",
        "        return BasicAuth(username=auth[0], password=auth[1])",
        "API_KEY=os.getenv(\"API_KEY\")",
        "x = f(token=tok(1), password=self._password)",
        "sys.stderr.write('yacc: Syntax error at line %d, token=%s\\n' % (lineno, tok))",
        '_SK_END = b"-----END OPENSSH PRIVATE KEY-----"',
    ],
)
def test_code_types_placeholders_and_empty_values_stay(text: str) -> None:
    """The stricter rules do not turn code or templates into false hits."""
    assert REDACTOR.redact(text).text == text
