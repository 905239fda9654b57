"""How the CLI makes its client: one resource, several (repeated --endpoint, or a TOML file), or the emulator."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from vision_async.cli._batch_files import UsageError
from vision_async.cli._client_args import add_client_arguments, make_client


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_client_arguments(parser)
    return parser.parse_args(argv)


@pytest.fixture(autouse=True)
def no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VISION_ENDPOINT", raising=False)
    monkeypatch.delenv("VISION_KEY", raising=False)


def roots(args: argparse.Namespace) -> list[str]:
    client = make_client(args)
    return [r.endpoint for r in client.stats().resources]


def test_repeated_endpoints_pair_with_their_keys() -> None:
    """--endpoint A --key KA --endpoint B --key KB makes a client of two resources, in order."""
    args = parse(
        "--endpoint", "https://a.example.com", "--key", "ka", "--endpoint", "https://b.example.com", "--key", "kb"
    )
    assert roots(args) == ["https://a.example.com", "https://b.example.com"]


def test_one_key_serves_every_endpoint() -> None:
    """A single --key is used for all endpoints; a mismatched count is a usage error."""
    assert (
        len(roots(parse("--endpoint", "https://a.example.com", "--endpoint", "https://b.example.com", "--key", "k")))
        == 2
    )
    with pytest.raises(UsageError, match="3 --endpoint but 2 --key"):
        make_client(
            parse(
                *("--endpoint", "https://a.example.com", "--endpoint", "https://b.example.com"),
                *("--endpoint", "https://c.example.com", "--key", "1", "--key", "2"),
            )
        )


def test_resources_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A TOML file lists resources with a key or an environment variable and a rate each."""
    monkeypatch.setenv("KEY_B", "kb")
    path = tmp_path / "resources.toml"
    path.write_text(
        '[[resources]]\nendpoint = "https://a.example.com"\nkey = "ka"\nrate = 5\n\n'
        '[[resources]]\nendpoint = "https://b.example.com"\nkey_env = "KEY_B"\n'
    )
    client = make_client(parse("--resources", str(path)))
    stats = client.stats().resources
    assert [r.endpoint for r in stats] == ["https://a.example.com", "https://b.example.com"]
    assert stats[0].allowed_rate == 5.0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "one or more"),
        ('[[resources]]\nkey = "k"\n', "needs an endpoint"),
        ('[[resources]]\nendpoint = "https://a.example.com"\n', "needs key or key_env"),
        ('[[resources]]\nendpoint = "https://a.example.com"\nkey_env = "UNSET_VAR_X"\n', "is not set"),
        ('[[resources]]\nendpoint = "https://a.example.com"\nkey = "k"\nrate = -1\n', "rate must be"),
        ("not toml [", "resources.toml"),
    ],
)
def test_bad_resources_file_is_a_usage_error(tmp_path: Path, text: str, message: str) -> None:
    """Every mistake in the file is a usage error that names it."""
    path = tmp_path / "resources.toml"
    path.write_text(text)
    with pytest.raises(UsageError, match=message):
        make_client(parse("--resources", str(path)))


def test_endpoint_without_key_is_a_usage_error() -> None:
    """An endpoint with no key (and none in the environment) is a usage error, not the emulator."""
    with pytest.raises(UsageError, match="missing --key"):
        make_client(parse("--endpoint", "https://a.example.com"))


def test_nothing_given_means_the_emulator(capsys: pytest.CaptureFixture[str]) -> None:
    """No endpoint and no key: the built-in emulator, said so on stderr."""
    assert roots(parse()) == ["http://emulator.invalid"]
    assert "built-in emulator" in capsys.readouterr().err
