"""Every code block in README.md, docs/*.md and gaap_client/README.md is checked.

- ``python``: each page's blocks, in order, make one module (a reader runs them
  one after the other), after a prelude that declares, typed, the names the page
  leaves to the reader (``CLIENT_ID``, the web framework's ``request``...). mypy
  checks every module against the generated stubs and the client library, so a
  missing import, a field a message does not have or a method a stub lacks fails.
  The pages in ``RUN`` also run, against a real ``make run`` (make run's
  addresses swapped for the test's), with the quick start's agency as
  ``CLIENT_ID``: those need no browser. The others (a web framework's request,
  a private key, an operator's token) are checked by mypy only.
- ``sh``: ``bash -n``; every command a line runs exists (``make`` targets in the
  Makefile, files in the repository, programs on the PATH); ``gaap-admin`` lines
  parse with gaap-admin's own argument parser.
- scopes: every scope a block names is one the platform knows, and every scope a
  snippet asks for in a token request or a sign-in is one the quick start's
  onboarding grants (so following the docs never ends in ``invalid_scope``).
- ``json``: parses. ``promql``: its metric names are ones the services export.
  ``proto``: its messages and methods are in protos/.
- ``text``: illustrative (output samples, trees): not checked. A block with no
  info string fails: say what it is.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from services.identity.cli import _parser as gaap_admin_parser
from services.identity.domain.scopes import KNOWN_SCOPES
from tests.support import devstack

ROOT = Path(__file__).resolve().parents[2]
PAGES = sorted(
    [ROOT / "README.md", *(ROOT / "docs").glob("*.md"), ROOT / "gaap_client" / "README.md"]
)
KINDS = ("python", "sh", "json", "text", "promql", "proto")
FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```[ \t]*$", re.S | re.M)


@dataclass(frozen=True)
class Block:
    page: Path
    line: int  # of the block's first line of code, 1-based
    kind: str
    code: str

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def blocks(page: Path) -> list[Block]:
    text = page.read_text()
    return [
        Block(page, text[: m.start()].count("\n") + 2, m.group(1).strip(), m.group(2))
        for m in FENCE.finditer(text)
    ]


def all_blocks(kind: str | None = None) -> list[Block]:
    return [b for page in PAGES for b in blocks(page) if kind is None or b.kind == kind]


def rel(page: Path) -> str:
    return str(page.relative_to(ROOT))


# What each page leaves to the reader, declared with types for mypy. A page
# missing here gets no prelude: its snippets must stand alone.
PRELUDES: dict[str, str] = {
    "docs/architecture.md": """
        from typing import Any
        self: Any
        call: Any
        tenant: str
        payment_id: str
        now: Any
        response: Any
        def replayed(stored: Any) -> Any: ...
    """,
    "docs/identity.md": """
        from typing import Any
        from gaap.identity.v1 import identity_pb2 as _pb
        CLIENT_ID: str
        CLIENT_SECRET: str
        TOKEN_ENDPOINT: str
        private_key: str
        token: str
        citizen_access_token: str
        refresh_token: str
        account_id: str
        operator_md: tuple[tuple[str, str], ...]
        def store_secret(client_id: str, secret: str) -> None: ...
    """,
    "docs/notify.md": """
        TOKEN_URL: str
        CLIENT_ID: str
        CLIENT_SECRET: str
    """,
    "docs/payments.md": """
        from datetime import datetime
        from google.protobuf.timestamp_pb2 import Timestamp
        CLIENT_ID: str
        CLIENT_SECRET: str
        start: Timestamp
        end: Timestamp
        def redirect_citizen_to(url: str) -> None: ...
        def store_secret(secret: str) -> None: ...
    """,
    "gaap_client/README.md": """
        from typing import Any
        CLIENT_ID: str
        CLIENT_SECRET: str
        TOKEN_ENDPOINT: str
        session: dict[str, Any]
        request: Any
        current_secret: str
        previous_secret: str
        def redirect(url: str) -> None: ...
    """,
}
# Pages whose python is a fragment of a method (pseudo-code of the layers):
# checked as the body of a function, so `return` and `self` make sense.
FUNCTION_BODIES = {"docs/architecture.md"}


def module_of(page: Path) -> tuple[str, list[tuple[int, Block | None]]]:
    """The page's python as one module, and for each line where it came from."""
    name = rel(page)
    prelude = textwrap.dedent(PRELUDES.get(name, "")).strip("\n")
    lines: list[str] = ["# mypy: disable-error-code=no-redef", *prelude.splitlines()]
    origin: list[tuple[int, Block | None]] = [(0, None)] * len(lines)
    indent = ""
    if name in FUNCTION_BODIES:
        lines.append("def _snippets() -> Any:")
        origin.append((0, None))
        indent = "    "
    for block in blocks(page):
        if block.kind != "python":
            continue
        for offset, line in enumerate(block.code.splitlines()):
            lines.append(indent + line if line else line)
            origin.append((offset, block))
    return "\n".join(lines) + "\n", origin


# A snippet with a missing import: the check must catch it, or it proves nothing.
CANARY = """
from gaap_client import GaapClient

client = GaapClient.from_secret("http://127.0.0.1:8081/oauth2/token", "id", "secret")
oidc = OpenIdClient("http://127.0.0.1:8081", ClientSecret("id", "secret"), "https://x/cb")
"""


def test_every_block_says_what_it_is() -> None:
    unlabelled = [b.where for b in all_blocks() if b.kind not in KINDS]
    assert not unlabelled, f"give these blocks one of {KINDS} as their info string: {unlabelled}"


def test_the_python_snippets_type_check(tmp_path: Path) -> None:
    origins: dict[str, list[tuple[int, Block | None]]] = {}
    files: list[str] = []
    for page in PAGES:
        if not any(b.kind == "python" for b in blocks(page)):
            continue
        source, origin = module_of(page)
        module = "doc_" + re.sub(r"\W", "_", rel(page)) + ".py"
        (tmp_path / module).write_text(source)
        origins[module] = origin
        files.append(str(tmp_path / module))
    (tmp_path / "doc_canary.py").write_text(CANARY)
    config = tmp_path / "mypy.ini"
    config.write_text(
        textwrap.dedent(f"""
        [mypy]
        python_version = 3.11
        mypy_path = {ROOT / "gen"}:{ROOT}
        check_untyped_defs = True
        warn_unreachable = True
        cache_dir = {ROOT / ".mypy_cache" / "doc-snippets"}

        [mypy-google.rpc.*,authlib.*,joserfc.*,grpc_status.*]
        ignore_missing_imports = True
        """)
    )
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(config), *files, "doc_canary.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    errors: list[str] = []
    canary: list[str] = []
    for line in done.stdout.splitlines():
        found = re.match(r"(?:.*/)?(doc_[\w]+\.py):(\d+): error: (.*)", line)
        if not found:
            continue
        module, number, message = found.group(1), int(found.group(2)), found.group(3)
        if module == "doc_canary.py":
            canary.append(message)
            continue
        offset, block = origins[module][number - 1]
        where = (
            f"{block.where[: block.where.rindex(':')]}:{block.line + offset}" if block else module
        )
        errors.append(f"{where}: {message}")
    assert any('"OpenIdClient" is not defined' in m for m in canary), done.stdout
    assert any('"ClientSecret" is not defined' in m for m in canary), done.stdout
    assert not errors, "\n".join(errors)


# -- sh ----------------------------------------------------------------------

STOP = {">", ">>", "|", "||", "&&", ";", "2>", "2>&1", "&"}


def shell_lines(code: str) -> Iterator[str]:
    """Each command line: continuations joined, and a quoted string's lines kept together."""
    pending = ""
    for line in code.replace("\\\n", " ").splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        pending = f"{pending}\n{line}" if pending else line
        try:
            shlex.split(pending, comments=True)
        except ValueError:  # a quote still open: the command goes on
            continue
        yield pending
        pending = ""
    if pending:
        yield pending


def substitutions(line: str) -> tuple[str, list[str]]:
    """``line`` with each top-level ``$(...)`` replaced by a word, and their insides."""
    outer, inner, depth, quote, start = "", [], 0, "", 0
    i = 0
    while i < len(line):
        char = line[i]
        if depth and quote:
            quote = "" if char == quote else quote
        elif depth and char in "'\"":
            quote = char
        elif line.startswith("$(", i):
            depth += 1
            if depth == 1:
                start = i + 2
            i += 2
            continue
        elif depth and char == "(":
            depth += 1
        elif depth and char == ")":
            depth -= 1
            if depth == 0:
                inner.append(line[start:i])
                outer += "SUBSTITUTED"
        elif not depth:
            outer += char
        i += 1
    return outer, inner


def words(line: str) -> list[str]:
    """The command's words: comments, redirections and what follows a pipe dropped."""
    found: list[str] = []
    for word in shlex.split(line, comments=True):
        if word in STOP:
            break
        found.append(word)
    while found and re.fullmatch(r"[A-Z_][A-Z0-9_]*=.*", found[0]):
        found.pop(0)  # VAR=value before the command
    return found


def make_targets() -> set[str]:
    return set(re.findall(r"^([a-z][\w-]*):", (ROOT / "Makefile").read_text(), re.M))


def command_problems(argv: list[str]) -> list[str]:
    if not argv:
        return []
    program = argv[0]
    if program == "make":
        missing = [t for t in argv[1:] if not t.startswith("-") and t not in make_targets()]
        return [f"no make target {t}" for t in missing]
    if "/" in program:
        return [] if (ROOT / program).exists() else [f"{program} is not in the repository"]
    if program == "gaap-admin" or program.endswith("/gaap-admin"):
        return gaap_admin_problems(argv[1:])
    venv = ROOT / ".venv" / "bin" / program
    return [] if shutil.which(program) or venv.exists() else [f"no program {program}"]


def gaap_admin_problems(args: list[str]) -> list[str]:
    parser = gaap_admin_parser()
    if "..." in args:  # elided: the subcommand at least must exist
        return [] if parse_ok(parser, [args[0], "--help"]) else [f"no gaap-admin {args[0]}"]
    return [] if parse_ok(parser, args) else [f"gaap-admin does not accept {shlex.join(args)}"]


def parse_ok(parser: object, args: list[str]) -> bool:
    import argparse
    import contextlib
    import io

    assert isinstance(parser, argparse.ArgumentParser)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        try:
            parser.parse_args(args)
        except SystemExit as exit_:
            return exit_.code == 0
    return True


def test_the_shell_snippets_parse_and_their_commands_exist() -> None:
    problems: list[str] = []
    for block in all_blocks("sh"):
        syntax = subprocess.run(
            ["bash", "-n"], input=block.code, capture_output=True, text=True, check=False
        )
        if syntax.returncode != 0:
            problems.append(f"{block.where}: {syntax.stderr.strip()}")
        for line in shell_lines(block.code):
            outer, inner = substitutions(line)
            commands = [words(outer), *(words(command) for command in inner)]
            problems += [f"{block.where}: {p}" for argv in commands for p in command_problems(argv)]
    assert not problems, "\n".join(problems)


# -- scopes --------------------------------------------------------------------


def quickstart_grant() -> set[str]:
    [onboarding] = [b for b in blocks(ROOT / "docs" / "quickstart.md") if "create-agency" in b.code]
    return set(re.findall(r"--scope (\S+)", onboarding.code))


def named_scopes(block: Block) -> tuple[set[str], set[str]]:
    """The scopes a block names, and those it asks for (a token request, a sign-in)."""
    code = block.code
    if block.kind == "sh":  # an output sample in a comment asks for nothing
        code = "\n".join(line for line in code.splitlines() if not line.lstrip().startswith("#"))
    asked: set[str] = set()
    for spaced in re.findall(r"""(?:\bscope=|"scope":\s*)["']([^"']+)["']""", code):
        asked |= set(spaced.split())
    for listed in re.findall(r"TokenSource\([^)]*scopes=\[([^\]]*)\]", code):
        asked |= set(re.findall(r"""["']([^"']+)["']""", listed))
    named = set(asked)
    named |= set(re.findall(r"--scope[ =](\S+)", code))
    for listed in re.findall(r"\bscopes=\[([^\]]*)\]", code):
        named |= set(re.findall(r"""["']([^"']+)["']""", listed))
    return named, asked


def test_every_scope_in_the_docs_exists_and_the_onboarding_grants_what_snippets_ask() -> None:
    grant = quickstart_grant()
    assert grant <= set(KNOWN_SCOPES)
    problems: list[str] = []
    for block in all_blocks():
        if block.kind not in ("python", "sh"):
            continue
        named, asked = named_scopes(block)
        problems += [f"{block.where}: no scope {s!r}" for s in sorted(named - set(KNOWN_SCOPES))]
        problems += [
            f"{block.where}: asks for {s!r}, which the quick start's onboarding does not grant"
            for s in sorted(asked - grant)
        ]
    assert not problems, "\n".join(problems)


def test_the_scope_check_catches_a_scope_nobody_grants() -> None:
    block = Block(ROOT / "README.md", 1, "python", 'oidc.start(scope="openid address")\n')
    assert named_scopes(block)[1] - quickstart_grant() == {"address"}
    bogus = Block(ROOT / "README.md", 1, "sh", "gaap-admin create-agency --scope payments:all\n")
    assert named_scopes(bogus)[0] - set(KNOWN_SCOPES) == {"payments:all"}


# -- json, promql, proto ---------------------------------------------------------


@pytest.mark.parametrize("block", all_blocks("json"), ids=lambda b: b.where)
def test_the_json_snippets_parse(block: Block) -> None:
    json.loads(block.code)


def services_source() -> str:
    return "\n".join(p.read_text() for p in (ROOT / "services").rglob("*.py"))


def test_the_promql_snippets_use_metrics_the_services_export() -> None:
    source = services_source()
    problems: list[str] = []
    for block in all_blocks("promql"):
        if block.code.count("(") != block.code.count(")"):
            problems.append(f"{block.where}: unbalanced parentheses")
        for metric in set(re.findall(r"\b((?:gaap|grpc_server)_[a-z0-9_]+)\b", block.code)):
            base = re.sub(r"_(bucket|count|sum)$", "", metric)
            service_relative = re.sub(r"^gaap_(identity|payments|notify)_", "}_", base)
            if f'"{base}"' not in source and f'{service_relative}"' not in source:
                problems.append(f"{block.where}: no metric {metric}")
    assert not problems, "\n".join(problems)


def test_the_proto_snippets_match_the_protos() -> None:
    protos = "\n".join(p.read_text() for p in (ROOT / "protos").rglob("*.proto"))
    problems = [
        f"{block.where}: {kind} {name} is not in protos/"
        for block in all_blocks("proto")
        for kind, name in re.findall(r"\b(message|rpc|enum|service) (\w+)", block.code)
        if not re.search(rf"\b{kind} {name}\b", protos)
    ]
    assert not problems, "\n".join(problems)


def test_the_shell_check_catches_a_wrong_option_and_a_missing_program() -> None:
    assert command_problems(words("gaap-admin create-agency --name x --scopes a:b")) == [
        "gaap-admin does not accept create-agency --name x --scopes a:b"
    ]
    assert command_problems(words("gaap-admin create-agency --name x --scope a:b")) == []
    assert command_problems(words("make deploy-everything")) == ["no make target deploy-everything"]
    assert command_problems(words("no-such-program --help")) == ["no program no-such-program"]
    outer, inner = substitutions("""ID=$(python3 -c 'print(")")') curl -s "$ID" """)
    assert (words(outer), [words(i) for i in inner]) == (
        ["curl", "-s", "$ID"],
        [["python3", "-c", 'print(")")']],
    )


# -- run against the platform ------------------------------------------------------

# The pages whose snippets run, and which kinds. Blocks that call make are the
# platform the test already started.
RUN: dict[str, tuple[str, ...]] = {
    "README.md": ("sh", "python"),
    "docs/payments.md": ("python",),
    "docs/notify.md": ("sh", "python"),
}
# What a page leaves to the reader, as values: the quick start's agency, and a
# citizen who pays (as in examples/quickstart.py) wherever the page redirects one.
RUN_PRELUDE = """
import json, sys
from datetime import UTC, datetime, timedelta
from google.protobuf.timestamp_pb2 import Timestamp
sys.path.insert(0, {examples!r})
from quickstart import pay_in_sandbox
agency = json.load(open({agency!r}))
CLIENT_ID, CLIENT_SECRET = agency["client_id"], agency["client_secret"]
TOKEN_URL = TOKEN_ENDPOINT = agency["token_endpoint"]
stored_secrets = []
def store_secret(*secret): stored_secrets.append(secret)
def redirect_citizen_to(url): pay_in_sandbox(url, "4242 4242 4242 4242")
start, end = Timestamp(), Timestamp()
start.FromDatetime(datetime.now(UTC) - timedelta(hours=1))
end.FromDatetime(datetime.now(UTC) + timedelta(hours=1))
"""
CONNECT_ERROR = re.compile(r'\{"code": ?"[a-z_]+", ?"message"')  # what a refused call answers
MAKE_RUN_PORTS = {"identity": (50051, 8081), "payments": (50052, 8082), "notify": (50053, 8083)}


def on_the_test_platform(code: str, stack: devstack.Devstack) -> str:
    for service, (grpc_port, http_port) in MAKE_RUN_PORTS.items():
        code = code.replace(f"http://127.0.0.1:{http_port}", stack.http(service))
        code = code.replace(f"127.0.0.1:{grpc_port}", stack.grpc(service))
    return code


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[devstack.Devstack]:
    """make run, with the quick start's agency in var/agency.json."""
    from tests.integration.test_quickstart import the_command

    with devstack.running(tmp_path_factory.mktemp("snippets") / "var") as running:
        argv = the_command(".venv/bin/gaap-admin create-agency")
        done = subprocess.run(
            argv[:-2], cwd=ROOT, env=running.env, capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stderr
        (running.var / "agency.json").write_text(done.stdout)
        yield running


def run_page(page: str, stack: devstack.Devstack) -> list[str]:
    """Run the page's runnable blocks from make run's folder; what failed."""
    failures: list[str] = []
    agency = json.loads((stack.var / "agency.json").read_text())
    env = {**stack.env, "CLIENT_ID": agency["client_id"], "CLIENT_SECRET": agency["client_secret"]}
    env["PYTHONPATH"] = f"{ROOT}:{ROOT / 'gen'}"
    python = [b for b in blocks(ROOT / page) if b.kind == "python"]
    if "python" in RUN[page] and python:
        prelude = RUN_PRELUDE.format(
            examples=str(ROOT / "examples"), agency=str(stack.var / "agency.json")
        )
        script = prelude + "\n".join(b.code for b in python)
        done = subprocess.run(
            [sys.executable, "-c", on_the_test_platform(script, stack)],
            cwd=stack.var.parent,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if done.returncode != 0:
            failures.append(f"{page}'s python: {done.stderr[-3000:]}")
    # The page's shell blocks, one after the other in one shell, as a reader's terminal.
    session = [
        b.code
        for b in blocks(ROOT / page)
        if b.kind == "sh" and not all(words(line)[:1] == ["make"] for line in shell_lines(b.code))
    ]
    if "sh" in RUN[page] and session:
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", on_the_test_platform("\n".join(session), stack)],
            cwd=stack.var.parent,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if done.returncode != 0 or CONNECT_ERROR.search(done.stdout):
            failures.append(f"{page}'s shell: {done.stdout[-1000:]} {done.stderr[-2000:]}")
    return failures


@pytest.mark.slow
@pytest.mark.parametrize("page", sorted(RUN))
def test_the_pages_snippets_run_against_the_platform(page: str, stack: devstack.Devstack) -> None:
    failures = run_page(page, stack)
    assert not failures, "\n".join(failures)
