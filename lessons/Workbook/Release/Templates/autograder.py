#!/usr/bin/env python3
"""Classroom 50 autograder, written by `workbook release` (goes to CLASSROOM/autograders/ASSIGNMENT/ with
graded-tests.json beside it).

Classroom 50's runner starts it in the student's checkout. It builds tests/Exercises.Tests, runs the graded tests
once with the workbook's grade logger and writes ./result.json in the classroom50/result/v1 schema: one entry per
graded test with its own points (a theory earns its points when all its cases pass). Code that does not build scores
0 of every test, and a "Build" entry (0 points) carries the build errors. Exit code 0 when it graded, whatever the
score; 1 when it could not (no .NET SDK could be installed), which the runner reports as an error.
"""

import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
EXPECTED = json.loads((HERE / "graded-tests.json").read_text(encoding="utf-8"))["tests"]
ENV = {**os.environ, "DOTNET_EnableWriteXorExecute": "0", "DOTNET_NOLOGO": "1", "DOTNET_CLI_TELEMETRY_OPTOUT": "1"}
TIMEOUT = 600  # seconds per dotnet command; Classroom 50 stops the whole grade job after 15 minutes


def run(args, timeout=TIMEOUT):
    """Runs a command in the checkout: (exit code, stdout and stderr); a timeout is exit code 124."""
    try:
        p = subprocess.run(args, env=ENV, capture_output=True, text=True, timeout=timeout, check=False)
        return p.returncode, p.stdout + p.stderr
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        return 124, f"{out}\n{' '.join(args)} did not finish within {timeout} s"


def dotnet():
    """A dotnet whose SDK global.json accepts: the one on PATH, else one installed with Microsoft's dotnet-install.sh."""
    found = shutil.which("dotnet")
    if found and run([found, "--version"], 60)[0] == 0:
        return found
    root = Path.home() / ".dotnet"
    script = Path(tempfile.gettempdir()) / "dotnet-install.sh"
    code, out = run(["curl", "-sSfL", "https://dot.net/v1/dotnet-install.sh", "-o", str(script)], 120)
    if code == 0:
        code, out = run(["bash", str(script), "--jsonfile", "global.json", "--install-dir", str(root)])
    if code != 0:
        print(f"::error::no .NET SDK for global.json and dotnet-install.sh failed:\n{out}", file=sys.stderr)
        sys.exit(1)
    ENV["DOTNET_ROOT"] = str(root)
    ENV["PATH"] = f"{root}{os.pathsep}{ENV.get('PATH', '')}"
    return str(root / "dotnet")


def build_errors(log):
    """The distinct compiler errors of a build log, paths relative to the checkout (else its last lines)."""
    cwd = os.getcwd() + "/"
    errors = sorted({re.sub(r" \[[^]]*\]$", "", line.strip()).replace(cwd, "")
                     for line in log.splitlines() if re.search(r": error [A-Z]+[0-9]+:", line)})
    return "\n".join(errors[:50]) if errors else "\n".join(log.splitlines()[-30:])


def name(test):
    return f"Lesson {test['lesson']:02d}: {'.'.join(test['name'].split('.')[-2:])}"


def grade():
    """The per-test entries of result.json."""
    exe = dotnet()
    code, log = run([exe, "build", "tests/Exercises.Tests"])
    print(log)
    if code != 0:
        errors = build_errors(log)
        return [{"test-name": "Build", "passed": False, "score": 0, "max-score": 0,
                 "message": f"The code does not build, so every graded test scores 0.\n{errors}"}] + [
                {"test-name": name(t), "passed": False, "score": 0, "max-score": t["points"],
                 "message": "not run: the code does not build"} for t in EXPECTED]
    with tempfile.TemporaryDirectory() as work:
        grades = Path(work) / "grades.json"
        code, log = run([exe, "test", "tests/Exercises.Tests", "--no-build", "--logger", f"grade;json={grades}"])
        print(log)
        ran = {t["name"]: t for t in json.loads(grades.read_text(encoding="utf-8"))["tests"]} if grades.is_file() else {}
    tests = []
    for t in EXPECTED:
        r = ran.get(t["name"])
        passed = r is not None and r["outcome"] == "Passed"
        entry = {"test-name": name(t), "passed": passed, "score": t["points"] if passed else 0, "max-score": t["points"]}
        if not passed:
            entry["message"] = (r.get("message") or r["outcome"]) if r else f"did not report a result (dotnet test exit code {code})"
        tests.append(entry)
    return tests


def main():
    tests = grade()
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    commit = os.environ.get("COMMIT_URL", "")
    result = {
        "schema": "classroom50/result/v1",
        "classroom": os.environ.get("CLASSROOM", ""),
        "assignment": os.environ.get("ASSIGNMENT", ""),
        "submission": os.environ.get("SUBMISSION_TAG", ""),
        "commit": commit,
        "release": os.environ.get("RELEASE_URL", ""),
        "review": os.environ.get("REVIEW_URL") or commit,
        "datetime": now,
        "score": sum(t["score"] for t in tests),
        "max-score": sum(t["max-score"] for t in tests),
        "tests": tests,
    }
    # The runner stamps owner and assignment_type; they are copied when its environment names them.
    for field, variable in (("owner", "OWNER"), ("assignment_type", "ASSIGNMENT_TYPE")):
        if os.environ.get(variable):
            result[field] = os.environ[variable]
    Path("result.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"{result['score']}/{result['max-score']} across {len(EXPECTED)} graded tests")


if __name__ == "__main__":
    main()
