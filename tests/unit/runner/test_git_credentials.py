"""A run's git credentials Secret, mounted optionally: missing or keyless, the runner says so."""

from pathlib import Path

import pytest

from autopack.runner.main import _missing_git_credentials
from autopack.workspace import mounted_credentials
from tests.builders.api import a_run


def secret_volume(root: Path, data: dict[str, str]) -> Path:
    """A directory laid out as the kubelet mounts a Secret (keys are links into ``..data``)."""
    stamp = root / "..2026_11_30_07_00_00.1"
    stamp.mkdir(parents=True)
    for key, value in data.items():
        (stamp / key).write_text(value)
    (root / "..data").symlink_to(stamp.name)
    for key in data:
        (root / key).symlink_to(f"..data/{key}")
    return root


def test_a_mounted_token_or_ssh_key_counts_and_an_empty_volume_does_not(tmp_path: Path) -> None:
    token = secret_volume(tmp_path / "token", {"token": "t", "username": "bot"})
    ssh = secret_volume(tmp_path / "ssh", {"ssh-privatekey": "k", "known_hosts": "h"})
    unrelated = secret_volume(tmp_path / "other", {"api-key": "x"})
    empty = tmp_path / "empty"  # an optional volume whose Secret does not exist
    empty.mkdir()
    assert mounted_credentials({}) is None
    assert mounted_credentials({"AUTOPACK_GIT_CREDENTIALS_DIR": str(token)}) is True
    assert mounted_credentials({"AUTOPACK_GIT_CREDENTIALS_DIR": str(ssh)}) is True
    assert mounted_credentials({"AUTOPACK_GIT_CREDENTIALS_DIR": str(unrelated)}) is False
    assert mounted_credentials({"AUTOPACK_GIT_CREDENTIALS_DIR": str(empty)}) is False


def test_the_runner_names_the_secret_to_create(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUTOPACK_GIT_CREDENTIALS_DIR", str(tmp_path))
    run = a_run().set("spec.repo.credentialsSecret", "git-token").obj()
    assert _missing_git_credentials(run, "team") == (
        "spec.repo.credentialsSecret names Secret 'git-token', but namespace 'team' has no such "
        "Secret, or it holds none of the keys token, password or ssh-privatekey"
    )
    (tmp_path / "token").write_text("t")
    assert _missing_git_credentials(run, "team") is None
    assert _missing_git_credentials(a_run().obj(), "team") is None  # none named
