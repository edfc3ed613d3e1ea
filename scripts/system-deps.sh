#!/usr/bin/env bash
# Installs the Debian packages Xiaoneng needs at run and test time, when they are missing.
# As root it installs them; otherwise it prints the exact command to run and stops.
set -euo pipefail
need=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need+=(mosquitto)

# Tests and reports: Debian's Chromium (driven by Playwright, never a downloaded browser), Chinese
# fonts (so screenshots show Chinese text), pdftotext (to check report PDFs).
command -v chromium >/dev/null 2>&1 || need+=(chromium)
[ -d /usr/share/fonts/opentype/noto ] || need+=(fonts-noto-cjk)
# The report PDF embeds a TrueType CJK font (reportlab cannot embed the CFF Noto CJK fonts).
[ -f /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || need+=(fonts-wqy-microhei)
command -v pdftotext >/dev/null 2>&1 || need+=(poppler-utils)
# promtool (from Debian's prometheus package) checks our /metrics exposition in the tests.
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
# objdump (binutils): PyInstaller and deploy/agent/build.py read the one-file agent's libraries.
command -v objdump >/dev/null 2>&1 || need+=(binutils)
# Database servers for the capture tests: used where one already answers (XN_TEST_PG_URL,
# XN_TEST_MYSQL_URL), otherwise the suite starts throwaway instances of its own from these packages.
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || need+=(postgresql)
command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ] || need+=(mariadb-server)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "缺少系统软件包 / missing Debian packages: ${need[*]}" >&2
  echo "请以 root 运行 / run as root:  apt-get update && apt-get install -y ${need[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${need[@]}"
