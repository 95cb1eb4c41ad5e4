#!/usr/bin/env bash
# Installs the tools some tests use, and only what is missing:
#   - a C compiler (cc), to check the libc constants against the system headers, and Valgrind and strace, which
#     lessons 02 and 03 run the lecture's C programs under;
#   - Debian's python3-nbformat, to validate executed notebooks against the official schema;
#   - Debian's jupyter-nbconvert and python3-nbclient, to execute the notebooks in the real .NET Interactive kernel
#     (the test installs the kernel itself, with dotnet tool install, into .tools/);
#   - unzip, which the instructor guide unpacks the Gradescope autograder with;
#   - Chromium from Debian (/usr/bin/chromium), to draw figures headless;
#   - plotly.js from npm (plotly.js-dist-min) into .tools/ (git-ignored), so no test needs the network.
# Without them those tests are skipped with a reason naming this script (and fail when CI is set).
# Idempotent: a second run changes nothing. CI runs it before the tests.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Keep equal to Lessons.Plotting.Charts.PlotlyJsVersion (a test checks).
PLOTLY_VERSION=4.1.2

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi

apt_install() {
  # Update the package lists first only when they do not know the package (fresh machine),
  # and once more if the install fails on stale lists.
  if ! apt-cache policy "$@" 2>/dev/null | grep -q 'Candidate: [0-9]'; then
    $sudo apt-get update
  fi
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y "$@" \
    || { $sudo apt-get update && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y "$@"; }
}

if ! command -v cc >/dev/null; then
  echo "setup-test-tools: installing gcc"
  apt_install gcc libc6-dev
fi

# Lessons 02 and 03 run the lecture's C programs under Valgrind and strace.
for tool in valgrind strace; do
  if ! command -v "$tool" >/dev/null; then
    echo "setup-test-tools: installing $tool"
    apt_install "$tool"
  fi
done

# Lesson 10 runs a C program as nobody with util-linux's setpriv (part of a standard Debian install).
if ! command -v setpriv >/dev/null; then
  echo "setup-test-tools: installing util-linux"
  apt_install util-linux
fi

# The instructor guide's Gradescope trial unpacks autograder.zip with unzip.
if ! command -v unzip >/dev/null; then
  echo "setup-test-tools: installing unzip"
  apt_install unzip
fi

if ! /usr/bin/python3 -c "import nbformat" 2>/dev/null; then
  echo "setup-test-tools: installing python3-nbformat"
  apt_install python3-nbformat
fi

if [ ! -x /usr/bin/jupyter-nbconvert ] || ! /usr/bin/python3 -c "import nbclient" 2>/dev/null; then
  echo "setup-test-tools: installing jupyter-nbconvert and python3-nbclient"
  apt_install jupyter-nbconvert python3-nbclient
fi

if [ ! -x /usr/bin/chromium ]; then
  echo "setup-test-tools: installing chromium"
  apt_install chromium
fi

if ! command -v npm >/dev/null; then
  echo "setup-test-tools: installing npm"
  apt_install npm
fi

package="$root/.tools/node_modules/plotly.js-dist-min/package.json"
if [ ! -f "$package" ] || ! grep -q "\"version\": \"$PLOTLY_VERSION\"" "$package"; then
  echo "setup-test-tools: installing plotly.js-dist-min@$PLOTLY_VERSION into .tools/"
  npm install --prefix "$root/.tools" --no-audit --no-fund --loglevel=error "plotly.js-dist-min@$PLOTLY_VERSION"
fi

echo "setup-test-tools: $(/usr/bin/chromium --version 2>/dev/null | head -n 1); plotly.js $PLOTLY_VERSION in .tools/"
