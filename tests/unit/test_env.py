import pytest

from comms_lab.env import EnvError, env_bool, env_int, env_list


def test_booleans_accept_the_usual_words(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLAG", "off")
    assert env_bool("FLAG", True) is False


def test_a_bad_boolean_names_the_variable_and_the_words_it_takes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEBUG", "maybe")
    with pytest.raises(EnvError, match=r"DEBUG='maybe': use one of 1/0, true/false"):
        env_bool("DEBUG", True)


def test_an_integer_out_of_range_names_the_range(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKER_CONCURRENCY", "0")
    with pytest.raises(EnvError, match="WORKER_CONCURRENCY=0: must be from 1 to 512"):
        env_int("WORKER_CONCURRENCY", 64, minimum=1, maximum=512)


def test_lists_are_comma_separated_and_trimmed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALLOWED_HOSTS", " a.example , b.example,")
    assert env_list("ALLOWED_HOSTS", []) == ["a.example", "b.example"]
