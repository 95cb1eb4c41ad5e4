#!/usr/bin/env bash
# Written by `workbook release`; .github/workflows/grade.yml runs it from the repository's root.
# Builds tests/Exercises.Tests, runs its graded tests and appends the grade (table and failure messages) to
# $GITHUB_STEP_SUMMARY (stdout without it). Code that does not build scores 0 of the visible points, and the
# summary lists the build errors. Exit code: 0 graded (whatever the score), 1 the build or the test run failed.
set -uo pipefail
possible=@POSSIBLE@
summary="${GITHUB_STEP_SUMMARY:-/dev/stdout}"
work=$(mktemp -d "${RUNNER_TEMP:-/tmp}/grade.XXXXXX")
trap 'rm -rf "$work"' EXIT

zero() { # the summary of a run that earned nothing: $1 says why, stdin the details
  { echo "## Grade: 0/$possible"; echo; echo "$1"; echo; echo '```'; cat; echo '```'; } >> "$summary"
  echo "::error::Grade 0/$possible (the job summary says why)"
}

if ! dotnet build tests/Exercises.Tests > "$work/build.log" 2>&1; then
  cat "$work/build.log"
  errors=$(grep -E ': error [A-Z]+[0-9]+:' "$work/build.log" | sed -E "s| \[[^]]*\]$||; s|^$PWD/||" | sort -u | head -n 50)
  printf '%s\n' "${errors:-$(tail -n 30 "$work/build.log")}" | zero "The code does not build, so every graded test scores 0. The build errors:"
  exit 1
fi

dotnet test tests/Exercises.Tests --no-build --logger "grade;json=$work/grades.json;summary=$summary"
status=$?
if [ ! -f "$work/grades.json" ]; then
  echo "dotnet test exited with code $status before the grade logger wrote a result; see the job log." | zero "The tests did not run."
  exit 1
fi
exit 0
