"""`make mutation`: mutation-test the rules that guard money, sign-in and messages.

mutmut (configured in pyproject.toml's [tool.mutmut]) copies `services/` into `mutants/`,
mutates the modules named there one small change at a time, and runs the unit tests that
reach each changed function. This script runs it and then reports, per guarded module and
per file: how many mutants the tests killed, which survived, and which are listed as
equivalent (a change no caller can observe) in docs/testing.md. It exits non-zero when a
module is under the target or a survivor is neither killed nor justified.

    python -m scripts.mutation            # run mutmut, then report
    python -m scripts.mutation --report   # report on the last run only
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = 0.90

# The guarded modules: what the issue that introduced mutation testing named, as
# path prefixes under services/.
MODULES: dict[str, tuple[str, ...]] = {
    "payments domain": ("services/payments/domain/",),
    "notify domain": ("services/notify/domain/",),
    "identity domain": ("services/identity/domain/",),
    "runtime access tokens": ("services/runtime/access_tokens.py",),
    "runtime idempotency": ("services/runtime/idempotency.py",),
    "runtime webhook signing": ("services/runtime/webhook_signing.py",),
}

# mutmut's exit codes per mutant (mutmut.stats.status_by_exit_code). A timeout is a
# kill: the mutant made the code loop, and the test noticed by not finishing.
KILLED = {1, 3, 36, -24, -9, 37}
SURVIVED = {0, 5, 33}  # 33: no test reaches the function at all
NOT_RUN = {None}

# One line per equivalent mutant in docs/testing.md:
#   - `services.x.y.x_function__mutmut_3`: why no caller can tell the difference
EQUIVALENT_LINE = re.compile(r"^- `(services\.[\w.]+__mutmut_\d+)`: (.+)$")


@dataclass
class Tally:
    killed: int = 0
    survived: list[str] = field(default_factory=list)
    equivalent: int = 0
    not_run: int = 0

    @property
    def scored(self) -> int:
        return self.killed + len(self.survived)

    @property
    def score(self) -> float:
        return self.killed / self.scored if self.scored else 1.0


def equivalent_mutants(doc: Path) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in doc.read_text(encoding="utf-8").splitlines():
        match = EQUIVALENT_LINE.match(line.strip())
        if match:
            found[match.group(1)] = match.group(2)
    return found


def module_of(path: str) -> str | None:
    for module, prefixes in MODULES.items():
        if path.startswith(prefixes):
            return module
    return None


def run_mutmut() -> int:
    children = str(os.cpu_count() or 2)
    command = [sys.executable, "-m", "mutmut", "run", "--max-children", children]
    return subprocess.call(command, cwd=ROOT)  # noqa: S603 - our own interpreter and arguments


def tally(
    equivalent: dict[str, str],
) -> tuple[dict[str, Tally], dict[str, Tally], set[str], set[str]]:
    """Count each guarded module's and file's mutants by what became of them; also the
    names seen, and those listed as equivalent that a test kills (the list is stale)."""
    from mutmut.mutation.data import SourceFileMutationData

    by_module: dict[str, Tally] = {name: Tally() for name in MODULES}
    by_file: dict[str, Tally] = {}
    seen: set[str] = set()
    listed_but_killed: set[str] = set()
    for path in guarded_paths():
        if not Path("mutants", f"{path}.meta").exists():
            continue
        data = SourceFileMutationData(path=path)
        data.load()
        module = module_of(path.as_posix())
        assert module is not None
        file_tally = by_file.setdefault(path.as_posix(), Tally())
        for name, code in data.exit_code_by_key.items():
            seen.add(name)
            if name in equivalent and code in KILLED:
                listed_but_killed.add(name)
            for each in (by_module[module], file_tally):
                if code in KILLED:
                    each.killed += 1
                elif name in equivalent:
                    each.equivalent += 1
                elif code in NOT_RUN:
                    each.not_run += 1
                else:
                    each.survived.append(name)
    return by_module, by_file, seen, listed_but_killed


def guarded_paths() -> list[Path]:
    return sorted(p for p in Path("services").rglob("*.py") if module_of(p.as_posix()))


def report(show_diffs: bool) -> int:
    # mutmut's own modules read mutants/ relative to the working folder.
    os.chdir(ROOT)
    from mutmut.mutation.diff_apply import get_diff_for_mutant

    equivalent = equivalent_mutants(ROOT / "docs" / "testing.md")
    by_module, by_file, seen, listed_but_killed = tally(equivalent)

    header = f"{'module':<28}{'mutants':>9}{'killed':>8}{'survived':>10}{'equivalent':>12}"
    print(f"\n{header}{'score':>8}")
    for name, each in by_module.items():
        total = each.scored + each.equivalent + each.not_run
        print(
            f"{name:<28}{total:>9}{each.killed:>8}{len(each.survived):>10}"
            f"{each.equivalent:>12}{each.score:>8.1%}"
        )
    print("\nper file (score, survivors):")
    for path_name, each in by_file.items():
        if each.scored:
            print(f"  {each.score:>6.1%} {len(each.survived):>4}  {path_name}")

    survivors = [name for each in by_module.values() for name in each.survived]
    if survivors:
        print(f"\n{len(survivors)} surviving mutants (kill each with a test, or justify it")
        print("in docs/testing.md; `mutmut show NAME` prints one's change):")
        for name in survivors:
            print(f"  {name}")
            if show_diffs:
                print(_indent(get_diff_for_mutant(name, path=_path_of(name, guarded_paths()))))
        kinds = Counter(name.rsplit("__mutmut_", 1)[0] for name in survivors)
        print("\nfunctions with the most survivors:")
        for function, count in kinds.most_common(10):
            print(f"  {count:>4}  {function}")
    # A function that changed renumbers its mutants: a listed name can then be gone, or
    # name another mutant, one the tests kill.
    stale = sorted((set(equivalent) - seen) | listed_but_killed)
    if stale:
        print("\nlisted as equivalent in docs/testing.md but gone or killed (look again):")
        for name in stale:
            print(f"  {name}")
    under = [name for name, each in by_module.items() if each.score < TARGET]
    if under:
        print(f"\nunder the {TARGET:.0%} target: {', '.join(under)}")
    return 1 if under or survivors or stale else 0


def _path_of(mutant: str, paths: list[Path]) -> Path:
    module = mutant.rsplit(".", 1)[0]
    for path in paths:
        if _dotted(path) == module:
            return path
    # A method's mutant is named module.Class.method; the class is one more level.
    return next(p for p in paths if module.startswith(_dotted(p)))


def _dotted(path: Path) -> str:
    return path.with_suffix("").as_posix().replace("/", ".")


def _indent(text: str) -> str:
    return "\n".join(f"      {line}" for line in text.splitlines())


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--report", action="store_true", help="report on the last run without running mutmut"
    )
    parser.add_argument("--diffs", action="store_true", help="print each survivor's change")
    args = parser.parse_args()
    if not args.report:
        code = run_mutmut()
        if code != 0:
            print(f"mutmut run failed with exit code {code}", file=sys.stderr)
            return code
    return report(show_diffs=args.diffs)


if __name__ == "__main__":
    sys.exit(main())
