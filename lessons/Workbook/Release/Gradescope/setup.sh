#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image (Ubuntu 22.04 or 24.04), from the
# unpacked autograder.zip (/autograder/source). It installs the .NET 10 SDK unless one is there, restores and builds
# the course copy (so grading needs no network), and creates the unprivileged user the student's code runs as.
# Written by `workbook gradescope`; it also runs on a machine that has the SDK (then it installs nothing).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
# Packages and the CLI's home where the unprivileged user can read them (it cannot read /root).
export NUGET_PACKAGES="$here/nuget-packages" DOTNET_CLI_HOME="$here/dotnet-home"

if [ -x "$here/dotnet/dotnet" ]; then export PATH="$here/dotnet:$PATH" DOTNET_ROOT="$here/dotnet"; fi
if ! dotnet --list-sdks 2>/dev/null | grep -q '^10\.0\.'; then
  echo "setup.sh: installing the .NET 10 SDK into $here/dotnet"
  if command -v apt-get >/dev/null; then
    # The SDK's own dependencies (ICU for globalization, TLS certificates) and curl for the installer.
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ca-certificates curl libicu-dev \
      || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ca-certificates curl libicu-dev; }
  fi
  curl -fsSL https://dot.net/v1/dotnet-install.sh -o "$here/dotnet-install.sh"
  bash "$here/dotnet-install.sh" --channel 10.0 --install-dir "$here/dotnet" --no-path
  export PATH="$here/dotnet:$PATH" DOTNET_ROOT="$here/dotnet"
else
  echo "setup.sh: a .NET 10 SDK is installed ($(dotnet --version)); nothing to install"
fi

cd "$here/course"
dotnet restore tests/Exercises.Tests
# Without the style analyzers, as grading builds (Grader.BuildProperties), so that grading rebuilds only the student's code.
dotnet build tests/Exercises.Tests --no-restore --disable-build-servers -p:RunAnalyzers=false -p:EnforceCodeStyleInBuild=false
# The grader itself runs from its own copy: grading rebuilds the course copy's outputs with the student's code.
rm -rf "$here/tool"
cp -r lessons/Workbook/bin/Debug/net10.0 "$here/tool"
chmod -R a+rX "$here"

if ! id -u student >/dev/null 2>&1; then
  useradd --system --user-group --no-create-home --shell /usr/sbin/nologin student
fi
echo "setup.sh: ready"
