#!/usr/bin/env bash
# Installs mcp-oidc-proxy as a systemd service (the seed's install.sh, made repeatable):
#   sudo ./install.sh path/to/mcp-oidc-proxy [path/to/config.yaml]
# The service is enabled, and started (or restarted, on an upgrade) only when its
# configuration passes --config-test with the secrets file: the example configuration has no
# OpenID provider, and a service started with it would exit at once, again every 5 s.
# ROOT=/some/dir installs into a staging tree instead of / (no users, no systemctl): used by
# the tests and by image builders.
set -euo pipefail

binary="${1:?usage: install.sh BINARY [CONFIG]}"
config="${2:-$(dirname "$0")/../../configs/config.example.yaml}"
root="${ROOT:-}"
here="$(cd "$(dirname "$0")" && pwd)"

install -d -m 0755 "$root/usr/local/bin" "$root/etc/systemd/system"
install -m 0755 "$binary" "$root/usr/local/bin/mcp-oidc-proxy"

# Configuration: kept if already there (an upgrade must not overwrite it).
install -d -m 0750 "$root/etc/mcp-proxy"
if [ ! -e "$root/etc/mcp-proxy/config.yaml" ]; then
  install -m 0640 "$config" "$root/etc/mcp-proxy/config.yaml"
fi
# Secrets go here (OIDC_CLIENT_SECRET=..., SESSION_SECRET=...), readable by root only.
if [ ! -e "$root/etc/mcp-proxy/environment" ]; then
  install -m 0600 /dev/null "$root/etc/mcp-proxy/environment"
fi
install -d -m 0750 "$root/var/lib/mcp-proxy"
# The unit's LogsDirectory (the audit trail's file); systemd makes it at start, made here too
# so --config-test below finds a configured audit file's directory writable.
install -d -m 0750 "$root/var/log/mcp-proxy"
install -m 0644 "$here/mcp-oidc-proxy.service" "$root/etc/systemd/system/mcp-oidc-proxy.service"

if [ -z "$root" ]; then
  if ! id -u mcp-proxy >/dev/null 2>&1; then
    useradd --system --no-create-home --shell /usr/sbin/nologin mcp-proxy
  fi
  chown -R root:mcp-proxy /etc/mcp-proxy
  chown mcp-proxy:mcp-proxy /var/lib/mcp-proxy /var/log/mcp-proxy
fi

# The secrets file as the unit's EnvironmentFile= reads it, never as shell: it is root's and
# this runs as root, so `. environment` would run whatever $(...) or `...` a value holds, and
# would read quotes, backslashes and "#" otherwise than systemd does. This follows systemd's
# own reader (parse_env_file_internal in src/basic/env-file.c): comments (# or ;) and blank
# lines, whitespace around keys and unquoted values dropped, '...' literal, "..." with \" \\
# \` \$ unescaped, a backslash outside quotes taking the next character, a backslash at the end
# of a line joining the next; no expansion. Like systemd, a name that is no variable name is
# ignored with a warning. Each assignment is exported into the calling (sub)shell.
environment_file_push() {
  if [[ $1 =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]]; then
    export "$1=$2"
  else
    # To the script's own stderr (3), also when --config-test's output is captured.
    echo "$3: ignoring \"$1\": not a variable name" >&3
  fi
}

# systemd refuses a whole EnvironmentFile= holding a NUL byte (read_full_stream: EBADMSG) or
# a line that is not UTF-8 (check_utf8ness_and_warn), and the service does not start. Bash
# would drop the NUL ($(...) ignores it) and pass the bytes on, so --config-test passed: here
# such a file is refused, naming the line and never its content (values are secrets).
environment_file_refusal() {
  local LC_ALL=C file="$1" before line n=0 tail=$'[\x80-\xbf]' utf8
  if IFS= read -r -d '' before <"$file"; then
    before="${before//[^$'\n']/}"
    echo "$file:$((${#before} + 1)): a NUL byte; systemd refuses the whole file (the service would not start): remove it"
    return 0
  fi
  # Well-formed UTF-8 as systemd reads it: no overlong forms, surrogates or code points past
  # U+10FFFF. Checked in keys and values, as systemd does: a comment line may hold any bytes.
  utf8=$'[\x01-\x7f]|[\xc2-\xdf]'"$tail"
  utf8+=$'|\xe0[\xa0-\xbf]'"$tail"$'|[\xe1-\xec\xee\xef]'"$tail$tail"$'|\xed[\x80-\x9f]'"$tail"
  utf8+=$'|\xf0[\x90-\xbf]'"$tail$tail"$'|[\xf1-\xf3]'"$tail$tail$tail"$'|\xf4[\x80-\x8f]'"$tail$tail"
  while IFS= read -r line || [[ -n $line ]]; do
    n=$((n + 1))
    if ! [[ $line =~ ^[$' \t']*[#\;] || $line =~ ^($utf8)*$ ]]; then
      echo "$file:$n: not valid UTF-8; systemd refuses the whole file (the service would not start): write the line in UTF-8"
      return 0
    fi
  done <"$file"
  return 1
}

export_environment_file() {
  local refusal
  if refusal="$(environment_file_refusal "$1")"; then
    echo "  - $refusal" >&2
    return 1
  fi
  # Blanks are systemd's WHITESPACE, [$' \t\n\r']: no \v or \f.
  local LC_ALL=C file="$1" contents c state=pre_key key="" value="" key_ws=-1 value_ws=-1 i
  # The sentinel keeps the file's final newlines, which $(...) would drop.
  contents="$(cat -- "$file" && printf x)"
  contents="${contents%x}"
  for ((i = 0; i < ${#contents}; i++)); do
    c="${contents:i:1}"
    case "$state" in
      pre_key)
        if [[ $c == [#\;] ]]; then state=comment
        elif [[ $c != [$' \t\n\r'] ]]; then state=key key="$c" key_ws=-1
        fi ;;
      key)
        if [[ $c == [$'\n\r'] ]]; then state=pre_key key=""
        elif [[ $c == = ]]; then state=pre_value value="" value_ws=-1
        else
          if [[ $c != [$' \t\n\r'] ]]; then key_ws=-1; elif ((key_ws < 0)); then key_ws=${#key}; fi
          key+="$c"
        fi ;;
      pre_value | value)
        if [[ $c == [$'\n\r'] ]]; then
          ((key_ws < 0)) || key="${key:0:key_ws}"
          [[ $state == pre_value ]] || ((value_ws < 0)) || value="${value:0:value_ws}"
          environment_file_push "$key" "$value" "$file"
          state=pre_key key="" value=""
        elif [[ $c == \\ ]]; then state=value_escape value_ws=-1
        elif [[ $state == pre_value && $c == \' ]]; then state=single_quote
        elif [[ $state == pre_value && $c == \" ]]; then state=double_quote
        elif [[ $state == value || $c != [$' \t\n\r'] ]]; then
          if [[ $c != [$' \t\n\r'] ]]; then value_ws=-1; elif ((value_ws < 0)); then value_ws=${#value}; fi
          state=value value+="$c"
        fi ;;
      value_escape)
        state=value
        [[ $c == [$'\n\r'] ]] || value+="$c" ;;
      single_quote)
        if [[ $c == \' ]]; then state=pre_value; else value+="$c"; fi ;;
      double_quote)
        if [[ $c == \" ]]; then state=pre_value
        elif [[ $c == \\ ]]; then state=double_quote_escape
        else value+="$c"
        fi ;;
      double_quote_escape)
        state=double_quote
        if [[ $c == [\"\\\`\$] ]]; then value+="$c"; elif [[ $c != $'\n' ]]; then value+="\\$c"; fi ;;
      comment)
        if [[ $c == \\ ]]; then state=comment_escape; elif [[ $c == [$'\n\r'] ]]; then state=pre_key; fi ;;
      comment_escape)
        if [[ $c == [$'\n\r'] ]]; then state=pre_key; else state=comment; fi ;;
    esac
  done
  case "$state" in
    pre_key | key | comment | comment_escape) ;;
    *)
      ((key_ws < 0)) || key="${key:0:key_ws}"
      [[ $state != value ]] || ((value_ws < 0)) || value="${value:0:value_ws}"
      environment_file_push "$key" "$value" "$file" ;;
  esac
}

# The installed binary checks the installed configuration with the secrets file's variables,
# as the service user where there is one, so a file it cannot read fails here too.
config_test() {
  (
    run=()
    # Looked up before the file's variables are in place (a PATH there is the proxy's).
    if [ -z "$root" ]; then run=("$(command -v setpriv)" --reuid=mcp-proxy --regid=mcp-proxy --clear-groups); fi
    export_environment_file "$root/etc/mcp-proxy/environment" || exit 1
    exec "${run[@]}" "$root/usr/local/bin/mcp-oidc-proxy" --config "$root/etc/mcp-proxy/config.yaml" --config-test
  )
}

state="installed into $root"
if [ -z "$root" ]; then
  systemctl daemon-reload
  systemctl enable mcp-oidc-proxy
  state="installed and enabled"
else
  echo "installed into $root (user, ownership and systemctl skipped)"
fi

if ! problems="$(config_test 3>&2 2>&1)"; then
  cat <<MESSAGE
mcp-oidc-proxy is $state, but not started: its configuration does not pass
--config-test yet.
$problems

Fill in /etc/mcp-proxy/config.yaml (settings; configs/config.example.yaml documents each)
and /etc/mcp-proxy/environment (secrets, one KEY=value a line), e.g.
  MCP_PUBLIC_URL=https://mcp.example.com   (the URL clients use; required in production)
  OIDC_DISCOVERY_URL=https://login.example.com/realms/company
  OIDC_CLIENT_ID=mcp-proxy
  OIDC_CLIENT_SECRET=...
  SESSION_SECRET=...   (32+ random characters: openssl rand -hex 32)
then run this script again, which starts the service once the check passes.
MESSAGE
  exit 0
fi

if [ -n "$root" ]; then
  echo "configuration OK: the service would be started"
  exit 0
fi
systemctl restart mcp-oidc-proxy
echo "mcp-oidc-proxy started; logs: journalctl -u mcp-oidc-proxy -f"
