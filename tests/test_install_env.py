"""tools/install_env.py, the one install routine of every environment, against a throw-away index.

The index is a directory of small wheels made here. Package ``a`` needs ``b[extra]>=1``; ``b`` is
there as 1.0 and as a newer 2.0; the lock pins ``b==1.0``. That is the trap of a lock installed by
an old pip (23.2.1, Python 3.11.7's own): it resolves the extra against the newest ``b`` and then
refuses it in hash-checking mode. The routine has to install ``b`` 1.0 from that lock, with the
interpreter's bundled pip (the bootstrap lock here pins the bundled pip and setuptools, so no newer
pip is involved), and fail with a clear message, leaving nothing half built, on a broken lock.
"""

from __future__ import annotations

import base64
import dataclasses
import ensurepip
import hashlib
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tools.install_env import (
    STAMP_NAME,
    LockError,
    bootstrap_entries,
    canonical_name,
    parse_lock,
    read_lock,
    unexpected_problems,
)

ROOT = Path(__file__).resolve().parent.parent
ROUTINE = ROOT / "tools" / "install_env.py"
BUNDLED = Path(ensurepip.__file__).parent / "_bundled"
WHEEL_FILE = b"Wheel-Version: 1.0\nGenerator: docner-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def make_wheel(
    index: Path,
    name: str,
    version: str,
    requires: tuple[str, ...] = (),
    extras: dict[str, tuple[str, ...]] | None = None,
) -> Path:
    """A pure-Python wheel of one module ``<name>`` (``VERSION = "<version>"``) in ``index/<name>/``."""
    extras = extras or {}
    module = name.replace("-", "_")
    dist_info = f"{module}-{version}.dist-info"
    metadata = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    metadata += [f"Requires-Dist: {requirement}" for requirement in requires]
    for extra, extra_requires in extras.items():
        metadata.append(f"Provides-Extra: {extra}")
        metadata += [f'Requires-Dist: {requirement} ; extra == "{extra}"' for requirement in extra_requires]
    files = {
        f"{module}/__init__.py": f'VERSION = "{version}"\n'.encode(),
        f"{dist_info}/METADATA": ("\n".join(metadata) + "\n").encode(),
        f"{dist_info}/WHEEL": WHEEL_FILE,
    }
    record = [f"{path},{_record_hash(data)},{len(data)}" for path, data in files.items()]
    files[f"{dist_info}/RECORD"] = ("\n".join([*record, f"{dist_info}/RECORD,,"]) + "\n").encode()
    folder = index / canonical_name(name)
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / f"{module}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, data in files.items():
            archive.writestr(path, data)
    return wheel


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def lock_text(wheels: dict[str, Path]) -> str:
    """A pip-compile style lock of ``name==version`` -> wheel, each with its file's hash."""
    lines = ["# a lock made by the test"]
    for pin, wheel in wheels.items():
        lines += [f"{pin} \\", f"    --hash=sha256:{sha256(wheel)}", "    # via the test"]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The throw-away index (``simple/<name>/`` with its files and page) and the files of the lock that pins b 1.0."""
    root = tmp_path_factory.mktemp("index")
    simple = root / "simple"
    files = {
        "a==1.0": make_wheel(simple, "a", "1.0", requires=("b[extra]>=1",)),
        "b==1.0": make_wheel(simple, "b", "1.0", extras={"extra": ("c",)}),
        "c==1.0": make_wheel(simple, "c", "1.0"),
    }
    make_wheel(simple, "b", "2.0", extras={"extra": ("c",)})  # published after the lock was made
    bootstrap = {}
    for wheel in sorted(BUNDLED.glob("*.whl")):  # the interpreter's own pip (and setuptools on 3.11)
        name, version = wheel.name.split("-")[:2]
        (simple / canonical_name(name)).mkdir(parents=True, exist_ok=True)
        bootstrap[f"{name}=={version}"] = shutil.copy(wheel, simple / canonical_name(name) / wheel.name)
    assert any(pin.startswith("pip==") for pin in bootstrap), f"no bundled pip wheel in {BUNDLED}"
    (root / "bootstrap.lock").write_text(lock_text({k: Path(v) for k, v in bootstrap.items()}), encoding="utf-8")
    (root / "good.lock").write_text(lock_text(files), encoding="utf-8")
    write_simple_pages(simple)
    return {"root": root, "simple": simple, "bootstrap": root / "bootstrap.lock", "lock": root / "good.lock", **files}


def write_simple_pages(simple: Path) -> None:
    """PEP 503 pages (``simple/<name>/index.html``) over the files: what pip reads from a file:// index."""
    for folder in sorted(path for path in simple.iterdir() if path.is_dir()):
        links = "".join(
            f'<a href="{wheel.name}#sha256={sha256(wheel)}">{wheel.name}</a>\n'
            for wheel in sorted(folder.glob("*.whl"))
        )
        (folder / "index.html").write_text(f"<!DOCTYPE html>\n<html><body>\n{links}</body></html>\n", encoding="utf-8")


def pip_env(index: dict[str, Path]) -> dict[str, str]:
    """pip pointed at the throw-away index only: no config file, no cache, no other index."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PIP_")}
    env.update(
        PIP_CONFIG_FILE=os.devnull,
        PIP_INDEX_URL=index["simple"].as_uri(),
        PIP_NO_CACHE_DIR="1",
        PIP_DISABLE_PIP_VERSION_CHECK="1",
    )
    return env


def run_routine(index: dict[str, Path], venv: Path, lock: Path) -> subprocess.CompletedProcess[str]:
    """The routine exactly as the Makefile runs it, with the test's bootstrap lock."""
    return subprocess.run(
        [sys.executable, str(ROUTINE), str(venv), str(lock), "--bootstrap", str(index["bootstrap"])],
        env=pip_env(index),
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def installed_version(venv: Path, name: str) -> str:
    return subprocess.run(
        [str(venv / "bin" / "python"), "-c", f"import {name}; print({name}.VERSION)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def bundled_pip_version() -> str:
    wheel = next(BUNDLED.glob("pip-*.whl"))
    return wheel.name.split("-")[1]


@pytest.mark.slow
def test_the_lock_installs_b_1_0_where_the_old_recipe_takes_the_newest_b(index, tmp_path):
    # Today's recipe on the same index (python -m venv; pip install --require-hashes -r lock) with
    # the bundled pip: it falls into the trap, so this index reproduces what broke `make run`.
    old = tmp_path / "old"
    subprocess.run([sys.executable, "-m", "venv", str(old)], check=True, env=pip_env(index))
    recipe = subprocess.run(
        [str(old / "bin" / "pip"), "install", "--require-hashes", "-r", str(index["lock"])],
        env=pip_env(index),
        capture_output=True,
        text=True,
        check=False,
    )
    assert bundled_pip_version() == "23.2.1", "the control below was measured with pip 23.2.1"
    assert recipe.returncode != 0
    assert "must have their versions pinned with ==" in recipe.stderr
    assert "b-2.0" in recipe.stderr.replace("_", "-")

    venv = tmp_path / "venv"
    completed = run_routine(index, venv, index["lock"])
    assert completed.returncode == 0, completed.stderr
    assert installed_version(venv, "b") == "1.0"
    assert installed_version(venv, "a") == "1.0"
    assert installed_version(venv, "c") == "1.0"
    pip_version = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "--version"], capture_output=True, text=True, check=True
    ).stdout.split()[1]
    assert pip_version == bundled_pip_version()
    stamp = (venv / STAMP_NAME).read_text(encoding="utf-8")
    assert f"sha256:{sha256(index['lock'])}" in stamp
    assert f"pip {pip_version}" in stamp


@pytest.mark.slow
def test_an_incomplete_lock_fails_pip_check_names_the_package_and_leaves_no_venv(index, tmp_path):
    lock = tmp_path / "incomplete.lock"
    lock.write_text(lock_text({"a==1.0": index["a==1.0"], "b==1.0": index["b==1.0"]}), encoding="utf-8")
    venv = tmp_path / "venv"
    completed = run_routine(index, venv, lock)
    assert completed.returncode == 1
    assert f"{lock} is incomplete or inconsistent" in completed.stderr
    assert re.search(r"^\s+a 1\.0 requires b", completed.stderr, re.M) is None  # b is there, only c is not
    assert "b 1.0 requires c for its extra 'extra' (asked for by a 1.0), which is not installed" in completed.stderr
    assert not venv.exists()


@pytest.mark.slow
def test_a_file_that_does_not_match_its_hash_fails_and_leaves_no_venv(index, tmp_path):
    lock = tmp_path / "tampered.lock"
    text = lock_text({"a==1.0": index["a==1.0"], "b==1.0": index["b==1.0"], "c==1.0": index["c==1.0"]})
    lock.write_text(text.replace(sha256(index["c==1.0"]), "0" * 64), encoding="utf-8")
    venv = tmp_path / "venv"
    completed = run_routine(index, venv, lock)
    assert completed.returncode == 1
    assert f"installing {lock} into {venv}" in completed.stderr
    assert "do not match the hashes" in completed.stderr.lower() or "HASHES" in completed.stderr
    assert not venv.exists()


def test_an_unpinned_entry_is_refused_before_anything_is_touched(index, tmp_path):
    lock = tmp_path / "unpinned.lock"
    lock.write_text(
        lock_text({"a==1.0": index["a==1.0"], "b>=1.0": index["b==1.0"], "c==1.0": index["c==1.0"]}),
        encoding="utf-8",
    )
    venv = tmp_path / "venv"
    venv.mkdir()
    (venv / "pyvenv.cfg").write_text("home = /nowhere\n", encoding="utf-8")
    (venv / STAMP_NAME).write_text("an earlier, good build\n", encoding="utf-8")
    completed = run_routine(index, venv, lock)
    assert completed.returncode == 1
    assert f"{lock}:5: 'b>=1.0' is not pinned with == to one version" in completed.stderr
    assert (venv / STAMP_NAME).read_text(encoding="utf-8") == "an earlier, good build\n"


def test_a_missing_lock_and_a_non_venv_folder_are_refused(index, tmp_path):
    completed = run_routine(index, tmp_path / "venv", tmp_path / "nowhere.lock")
    assert completed.returncode == 1
    assert f"lock file {tmp_path / 'nowhere.lock'} not found" in completed.stderr
    assert not (tmp_path / "venv").exists()

    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me\n", encoding="utf-8")
    completed = run_routine(index, precious, index["lock"])
    assert completed.returncode == 1
    assert "exists and is not a virtual environment" in completed.stderr
    assert (precious / "notes.txt").read_text(encoding="utf-8") == "keep me\n"


def test_parse_lock_reads_a_pip_compile_lock_and_names_what_is_wrong():
    text = (
        "#\n# header\n#\nalpha-One==1.2.3 \\\n    --hash=sha256:AB12 \\\n    --hash=sha256:cd34\n"
        "    # via beta\nbeta==2.0 ; python_version >= '3.8' \\\n    --hash=sha256:ef56\n"
    )
    entries = parse_lock(text, "x.lock")
    assert list(entries) == ["alpha-one", "beta"]
    assert entries["alpha-one"].version == "1.2.3"
    assert entries["alpha-one"].hashes == ("sha256:ab12", "sha256:cd34")
    assert entries["alpha-one"].line == 4
    assert entries["beta"].marker == "python_version >= '3.8'"
    assert parse_lock(entries["alpha-one"].requirement_lines(), "y") == {
        "alpha-one": dataclasses.replace(entries["alpha-one"], line=1)
    }
    for bad, message in [
        ("gamma>=1 --hash=sha256:aa\n", r"x\.lock:1: 'gamma>=1' is not pinned with =="),
        ("gamma==1.* --hash=sha256:aa\n", r"'gamma==1\.\*' is not pinned"),
        ("gamma @ https://x/y.whl --hash=sha256:aa\n", "not pinned"),
        ("gamma==1\n", r"x\.lock:1: gamma==1 has no --hash"),
        ("gamma==1 --hash=md5:aa\n", "is not a sha256"),
        ("-r other.txt\n", r"option '-r'"),
        ("--index-url https://example.org\n", "option '--index-url'"),
        ("g==1 --hash=sha256:aa\nG==2 --hash=sha256:bb\n", r"x\.lock:2: G is pinned twice \(also on line 1\)"),
    ]:
        with pytest.raises(LockError, match=message):
            parse_lock(bad, "x.lock")


names = st.from_regex(r"[a-z][a-z0-9]{0,6}([-_.][a-z0-9]{1,4})?", fullmatch=True)
versions = st.from_regex(r"[0-9]{1,3}(\.[0-9]{1,3}){0,3}", fullmatch=True)
digests = st.from_regex(r"[0-9a-f]{64}", fullmatch=True)


@given(st.dictionaries(names, st.tuples(versions, st.lists(digests, min_size=1, max_size=3)), max_size=8))
def test_parse_lock_round_trips_any_lock_of_pinned_hashed_entries(pins):
    pins = {canonical_name(name): value for name, value in pins.items()}
    text = "\n".join(
        f"{name}=={version} \\\n" + " \\\n".join(f"    --hash=sha256:{d}" for d in hashes) + "\n    # via x"
        for name, (version, hashes) in pins.items()
    )
    entries = parse_lock(text, "p.lock")
    assert {name: (e.version, list(e.hashes)) for name, e in entries.items()} == {
        name: (version, [f"sha256:{d}" for d in hashes]) for name, (version, hashes) in pins.items()
    }
    assert parse_lock("\n".join(e.requirement_lines() for e in entries.values()), "q").keys() == entries.keys()


def test_bootstrap_takes_the_locks_own_pin_of_pip_or_setuptools():
    bootstrap = parse_lock("pip==26.3 --hash=sha256:aa\nsetuptools==84.2.1 --hash=sha256:bb\n")
    lock = parse_lock("setuptools==80.0 --hash=sha256:cc\nrequests==2.0 --hash=sha256:dd\n")
    assert [(e.name, e.version) for e in bootstrap_entries(bootstrap, lock)] == [
        ("pip", "26.3"),
        ("setuptools", "80.0"),
    ]


def test_pip_check_lines_other_than_an_allowed_missing_package_are_problems():
    output = (
        "docner 0.1.0 requires pyspark, which is not installed.\n"
        "weasel 1.0.1 requires smart-open, which is not installed.\n"
        "spacy 3.8.7 has requirement numpy>=1.19, but you have numpy 1.0.\n"
    )
    assert unexpected_problems(output, ["PySpark"]) == output.splitlines()[1:]
    assert unexpected_problems("No broken requirements found.\n", []) == []


def test_every_committed_lock_is_pinned_and_hashed_and_the_bootstrap_is_pip_and_setuptools():
    locks = sorted(ROOT.glob("requirements*.lock"))
    assert {lock.name for lock in locks} >= {
        "requirements.lock",
        "requirements-reader.lock",
        "requirements-airflow.lock",
        "requirements-bootstrap.lock",
        "requirements-tools.lock",
    }
    for lock in locks:
        assert read_lock(lock)
    assert set(read_lock(ROOT / "requirements-bootstrap.lock")) == {"pip", "setuptools"}


def test_every_environment_of_the_makefile_goes_through_the_routine():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    recipe_lines = [line.strip() for line in makefile.splitlines() if line.startswith("\t")]
    assert not [line for line in recipe_lines if re.search(r"pip\S* install|-m venv|ensurepip", line)]
    routine_calls = [line for line in recipe_lines if line.startswith("$(INSTALL_ENV)")]
    targets = {line.split()[1] for line in routine_calls}
    assert targets == {"$(VENV)", "$(READER_VENV)", "$(AIRFLOW_VENV)", "$(LOCK_VENV)", "$(PACKAGE_DIR)/env"}
    assert "INSTALL_ENV = $(PYTHON) tools/install_env.py" in makefile
