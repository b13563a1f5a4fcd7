#!/usr/bin/env bash
# Installs the Debian packages the project builds against, when they are missing.
set -euo pipefail
# docker-compose validates docker-compose.yml offline; chromium is the analyzers' browser;
# nftables holds the target policy in the kernel for k6 (runs/engine/egress.py); flite speaks the captcha;
# poppler-utils (pdftoppm) renders the PDF report's pages for the tests' artifacts; prometheus receives the
# metrics k6 remote-writes in the tests of that output; openssl makes the DH parameters of the TLS rating tests.
packages=(libmariadb-dev pkg-config docker-compose bubblewrap chromium nftables flite poppler-utils prometheus openssl)
command -v node >/dev/null 2>&1 || packages+=(nodejs npm)
missing=()
for package in "${packages[@]}"; do
  dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "Missing Debian packages: ${missing[*]}. Install them with: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
echo "Installing ${missing[*]}…"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
