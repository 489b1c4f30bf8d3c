"""What users install: both distributions built once with `python -m build`, checked with twine and
check-wheel-contents, and installed as the README says into fresh venvs with nothing of the
checkout on sys.path. The installed `signet serve` issues the tokens that the installed verifier
and the README's FastAPI example check."""

from __future__ import annotations

import json
import sys
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.parser import Parser
from pathlib import Path

import httpx
import pytest

import signet
from tests.integration.test_readme_snippet import readme_snippet
from tests.support.installs import (
    INSTALLED,
    ISSUER,
    LIBRARY,
    UV,
    Dists,
    Venv,
    build_dists,
    install_args,
    make_venv,
    readme_install_lines,
    requirement_names,
    run,
    wheel_record,
)
from tests.support.processes import ROOT, Service, free_port
from tests.support.tokens import post_token, verify_access_token

VERSION = signet.__version__
# The READMEs users read: the repository's (the library's index page) and the issuer's.
INSTALL_LINES = readme_install_lines((ROOT / "README.md").read_text(),
                                     (ROOT / "issuer" / "README.md").read_text())
VERIFIER_LINE = "pip install 'signet-jwt[verifier]'"
ISSUER_LINE = "pip install signet-jwt-issuer"
SNIPPET_LINE = "pip install 'signet-jwt[verifier]' fastapi uvicorn"
# What each extra, and the issuer, must make importable.
PROVIDES = {"verifier": "signet.verifier", "metrics": "signet.verifier.metrics",
            "kms": "signet.keys.kms", ISSUER: "signet_issuer.main"}
AUDIENCE = "api://orders"


@pytest.fixture(scope="module")
def dists(tmp_path_factory: pytest.TempPathFactory) -> Dists:
    return build_dists(tmp_path_factory.mktemp("dist"))


@pytest.fixture(scope="module")
def venv_for(dists: Dists, tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Venv]:
    """One fresh venv per README install line, made on first use and shared by the tests."""
    made: dict[str, Venv] = {}

    def get(line: str) -> Venv:
        assert line in INSTALL_LINES, f"{line!r} is no longer an install line of the README"
        if line not in made:
            made[line] = make_venv(tmp_path_factory.mktemp("venv"), dists, install_args(line))
        return made[line]

    return get


@dataclass(frozen=True)
class Issuer:
    base: str
    client_id: str
    secret: str

    def token(self, scope: str = "orders:read") -> str:
        answer = post_token(self.base, {"grant_type": "client_credentials", "scope": scope},
                            auth=(self.client_id, self.secret))
        assert answer.status_code == 200, answer.text
        return str(answer.json()["access_token"])


@pytest.fixture(scope="module")
def installed_issuer(venv_for: Callable[[str], Venv],
                     tmp_path_factory: pytest.TempPathFactory) -> Iterator[Issuer]:
    """`signet serve` of the issuer venv, local keys, a client added by that venv's `signet`."""
    venv = venv_for(ISSUER_LINE)
    home = tmp_path_factory.mktemp("issuer")
    port = free_port()
    env = venv.env({"SIGNET_CLIENTS_FILE": str(home / "clients.yaml"),
                    "SIGNET_LOCAL_KEY_DIR": str(home / "keys"), "SIGNET_KEY_BACKEND": "local",
                    "SIGNET_HOST": "127.0.0.1", "SIGNET_PORT": str(port)})
    added = run([str(venv.bin / "signet"), "clients", "add", "shop", "--scope", "orders:read",
                 "--audience", AUDIENCE, "--json"], cwd=home, env=env)
    service = Service("installed-issuer", [str(venv.bin / "signet"), "serve"], env, cwd=home)
    base = f"http://127.0.0.1:{port}"
    try:
        service.wait_http(base + "/healthz")
        yield Issuer(base, "shop", json.loads(added)["client_secret"])
    finally:
        service.stop()


def test_twine_check_passes_on_every_sdist_and_wheel(dists: Dists) -> None:
    files = [*dists.sdists.values(), *dists.wheels.values()]
    out = run([sys.executable, "-m", "twine", "check", "--strict", *map(str, files)])
    assert out.count("PASSED") == 4, out


def test_check_wheel_contents_passes_on_both_wheels(dists: Dists) -> None:
    wheels = list(map(str, dists.wheels.values()))
    out = run([sys.executable, "-m", "check_wheel_contents", *wheels])
    assert out.count(": OK") == 2, out


@pytest.mark.parametrize(("dist", "package", "source"),
                         [(LIBRARY, "signet", ROOT / "signet"), (ISSUER, "signet_issuer", ROOT / "app")],
                         ids=[LIBRARY, ISSUER])
def test_wheel_holds_one_package_its_source_tree_and_the_license(
        dists: Dists, dist: str, package: str, source: Path) -> None:
    record = wheel_record(dists.wheels[dist])
    info = f"{dist.replace('-', '_')}-{VERSION}.dist-info"
    assert {path.split("/")[0] for path in record} == {package, info}
    # Every source file and nothing else (no __pycache__, nothing from a neighbour directory).
    shipped = {path.removeprefix(package + "/") for path in record if path.startswith(package + "/")}
    on_disk = {str(p.relative_to(source)) for p in source.rglob("*")
               if p.is_file() and "__pycache__" not in p.parts}
    assert shipped == on_disk
    with zipfile.ZipFile(dists.wheels[dist]) as wheel:
        assert wheel.read(f"{info}/licenses/LICENSE") == (ROOT / "LICENSE").read_bytes()
    if dist == LIBRARY:
        assert "signet/py.typed" in record


def test_issuer_requires_exactly_this_release_of_the_library(dists: Dists) -> None:
    with zipfile.ZipFile(dists.wheels[ISSUER]) as wheel:
        meta = Parser().parsestr(wheel.read(f"signet_jwt_issuer-{VERSION}.dist-info/METADATA").decode())
    assert meta["Version"] == VERSION
    assert f"signet-jwt[kms,metrics,verifier]=={VERSION}" in meta.get_all("Requires-Dist")


def test_the_readme_install_lines_were_found() -> None:
    assert {VERIFIER_LINE, ISSUER_LINE, SNIPPET_LINE} <= set(INSTALL_LINES), INSTALL_LINES
    assert "pip install signet" not in INSTALL_LINES  # an unrelated project's name


@pytest.mark.parametrize("line", INSTALL_LINES)
def test_readme_install_line_installs_the_built_wheels(
        line: str, venv_for: Callable[[str], Venv], dists: Dists, tmp_path: Path) -> None:
    venv = venv_for(line)
    names = requirement_names(line)
    found = venv.python_json(INSTALLED, cwd=tmp_path)
    expected = {LIBRARY} | ({ISSUER} & names.keys())
    assert set(found["dists"]) == expected
    for dist in expected:
        installed = found["dists"][dist]
        assert installed["version"] == VERSION
        assert Path(installed["location"]).is_relative_to(venv.path)
        # The files are those of the wheel just built (same hashes), not a cached or indexed one.
        record = dict(installed["record"])
        for path, digest in wheel_record(dists.wheels[dist]).items():
            assert record.get(path) == digest, (dist, path)
    assert (venv.bin / "signet").exists() == (ISSUER in names)
    if "--no-deps" in install_args(line):
        return
    run([UV, "pip", "check", "--quiet", "--python", str(venv.bin / "python")])
    parts = names.get(LIBRARY, set()) | ({ISSUER} & names.keys())
    assert parts <= PROVIDES.keys(), f"{line!r} names an unknown extra"
    modules = [PROVIDES[part] for part in parts]
    program = f"import importlib, json; [importlib.import_module(m) for m in {modules!r}]; print('[]')"
    venv.python_json(program, cwd=tmp_path)


VERIFIER_SMOKE = """
import json, os, sys
from importlib.util import find_spec
import signet
from signet.verifier import SignetError, Verifier
token = os.environ["TOKEN"]
head, signature = token.rsplit(".", 1)
forged = head + "." + ("B" if signature[0] == "A" else "A") + signature[1:]
verifier = Verifier(os.environ["ISSUER"], os.environ["AUDIENCE"])
try:
    claims = verifier.verify_sync(token)
    try:
        verifier.verify_sync(forged)
        refused = None
    except SignetError as exc:
        refused = exc.code
finally:
    verifier.close()
heavy = ("fastapi", "starlette", "pydantic", "boto3", "botocore", "aioboto3", "uvicorn")
print(json.dumps({"signet": signet.__file__, "client_id": claims["client_id"], "refused": refused,
                  "imported": sorted(m for m in sys.modules if m.split(".")[0] in heavy),
                  "installed": [m for m in heavy if find_spec(m) is not None]}))
"""


def test_verifier_alone_verifies_the_installed_issuers_tokens(
        venv_for: Callable[[str], Venv], installed_issuer: Issuer, tmp_path: Path) -> None:
    venv = venv_for(VERIFIER_LINE)
    result = venv.python_json(VERIFIER_SMOKE, cwd=tmp_path, env={
        "TOKEN": installed_issuer.token(), "ISSUER": installed_issuer.base, "AUDIENCE": AUDIENCE})
    assert Path(result["signet"]).is_relative_to(venv.path)
    assert result["client_id"] == "shop"
    assert result["refused"] == "bad_signature"
    assert result["imported"] == []
    assert result["installed"] == []  # the README: no FastAPI, pydantic or AWS SDK
    assert not (venv.bin / "signet").exists()


def test_issuer_alone_serves_tokens_that_verify_against_its_jwks(
        venv_for: Callable[[str], Venv], installed_issuer: Issuer, tmp_path: Path) -> None:
    venv = venv_for(ISSUER_LINE)
    assert run([str(venv.bin / "signet"), "--version"], cwd=tmp_path,
               env=venv.env()).strip() == f"signet {VERSION}"
    claims = verify_access_token(installed_issuer.base, installed_issuer.token(), AUDIENCE)
    assert claims["client_id"] == "shop"
    assert claims["iss"] == installed_issuer.base


def test_readme_fastapi_example_runs_from_the_wheels(
        venv_for: Callable[[str], Venv], installed_issuer: Issuer, tmp_path: Path) -> None:
    venv = venv_for(SNIPPET_LINE)
    (tmp_path / "orders.py").write_text(readme_snippet())
    port = free_port()
    service = Service("readme-example", [str(venv.bin / "uvicorn"), "orders:app", "--app-dir",
                                         str(tmp_path), "--host", "127.0.0.1", "--port", str(port)],
                      venv.env({"SIGNET_VERIFIER_ISSUER": installed_issuer.base,
                                "SIGNET_VERIFIER_AUDIENCE": AUDIENCE}), cwd=tmp_path)
    url = f"http://127.0.0.1:{port}/orders"
    try:
        service.wait_http(url)
        token = installed_issuer.token()
        allowed = httpx.get(url, headers={"Authorization": f"Bearer {token}"})
        assert allowed.status_code == 200, allowed.text
        assert allowed.json() == {"client": "shop", "orders": []}
        refused = httpx.get(url)
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"].startswith("Bearer")
    finally:
        service.stop()
