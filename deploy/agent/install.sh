#!/bin/sh
# 安装效能采集代理 / Install the Xiaoneng hall agent (the one-file build) on a hall machine.
#
#   sudo ./install.sh                      # the xiaoneng-agent beside this script
#   sudo ./install.sh --binary ./xiaoneng-agent-video
#   ./install.sh --root /tmp/stage         # into a staging tree (packaging, tests): no user, no systemctl
#
# Installs /usr/local/bin/xiaoneng-agent, /etc/xiaoneng-agent/ (config; data/ for the outbox), the
# systemd unit xiaoneng-agent.service and the system user "xiaoneng" the agent runs as. It does not
# start the agent: put the bundle from the hub (agent.yaml + agent.key) into /etc/xiaoneng-agent/ first.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
binary="$here/xiaoneng-agent"
root=""
while [ $# -gt 0 ]; do
  case "$1" in
    --binary) binary="$2"; shift 2 ;;
    --root) root="$2"; shift 2 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "未知参数 / unknown option: $1" >&2; exit 2 ;;
  esac
done
unit="$here/xiaoneng-agent.service"
[ -f "$unit" ] || unit="$here/../systemd/xiaoneng-agent.service"   # in the source tree
[ -x "$binary" ] || { echo "找不到程序 / no executable at $binary (--binary PATH)" >&2; exit 1; }
[ -f "$unit" ] || { echo "找不到 systemd 单元 / no xiaoneng-agent.service beside this script" >&2; exit 1; }
if [ -z "$root" ] && [ "$(id -u)" != 0 ]; then
  echo "请以 root 运行 / run as root: sudo $0" >&2; exit 1
fi

install -D -m 0755 "$binary" "$root/usr/local/bin/xiaoneng-agent"
install -d -m 0750 "$root/etc/xiaoneng-agent" "$root/etc/xiaoneng-agent/data"
install -D -m 0644 "$unit" "$root/etc/systemd/system/xiaoneng-agent.service"

if [ -z "$root" ]; then
  if ! getent passwd xiaoneng >/dev/null; then
    useradd --system --no-create-home --home-dir /etc/xiaoneng-agent --shell /usr/sbin/nologin xiaoneng
  fi
  chgrp xiaoneng /etc/xiaoneng-agent
  chown xiaoneng:xiaoneng /etc/xiaoneng-agent/data
  if [ -d /run/systemd/system ]; then
    systemctl daemon-reload
  fi
fi
"$root/usr/local/bin/xiaoneng-agent" --version
cat <<'NEXT'
已安装 / installed. 下一步 / next:
  1. 把中心发来的 agent.yaml 和 agent.key 放进 /etc/xiaoneng-agent/（agent.key 权限 0600，属主 xiaoneng）
     copy the hub's bundle (agent.yaml, agent.key) into /etc/xiaoneng-agent/
  2. xiaoneng-agent validate-config --live /etc/xiaoneng-agent/agent.yaml
  3. systemctl enable --now xiaoneng-agent && journalctl -u xiaoneng-agent -f
NEXT
