# bash completion for lia (installed as
# /usr/share/bash-completion/completions/lia): sub-commands, each command's
# options as its --help lists them, values of the options that take a few
# known ones, files, and for -t / -T / -U the topics lia sub has seen
# (${XDG_CACHE_HOME:-~/.cache}/lia/topics, written by lia sub).

_lia_options()
{
	"$1" "$2" --help 2>/dev/null | grep -oE -- '(^|[ ,(])--?[A-Za-z][-A-Za-z0-9]*' |
		sed 's/^[ ,(]//' | sort -u
}

_lia_topics()
{
	local f="${XDG_CACHE_HOME:-$HOME/.cache}/lia/topics"
	[ -r "$f" ] && cat "$f"
}

_lia()
{
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
	local cmd=${COMP_WORDS[1]} IFS=$'\n'
	COMPREPLY=()
	if [ "$COMP_CWORD" -eq 1 ]; then
		COMPREPLY=($(compgen -W $'run\npub\nsub\ncheck\n--help\n--version' -- "$cur"))
		COMPREPLY+=($(compgen -f -X '!*.lua' -- "$cur"))
		return
	fi
	case $prev in
	-t|--topic|-T|-U)
		COMPREPLY=($(compgen -W "$(_lia_topics)" -- "$cur")); return ;;
	--config|--cafile|--cert|--key|-f|--file|--sim|--unix)
		COMPREPLY=($(compgen -f -- "$cur")); return ;;
	--capath|--data-dir)
		COMPREPLY=($(compgen -d -- "$cur")); return ;;
	--hw) COMPREPLY=($(compgen -W $'linux\nsim' -- "$cur")); return ;;
	--log-format) COMPREPLY=($(compgen -W $'text\njournal' -- "$cur")); return ;;
	-V|--protocol-version)
		COMPREPLY=($(compgen -W $'31\n311\n5\nmqttv31\nmqttv311\nmqttv5' -- "$cur")); return ;;
	-q|--qos|--will-qos) COMPREPLY=($(compgen -W $'0\n1\n2' -- "$cur")); return ;;
	--tls-version) COMPREPLY=($(compgen -W $'tlsv1.2\ntlsv1.3' -- "$cur")); return ;;
	esac
	case $cmd in
	run|pub|sub|check) ;;
	*) COMPREPLY=($(compgen -f -- "$cur")); return ;;   # lia script.lua args
	esac
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$(_lia_options "${COMP_WORDS[0]}" "$cmd")" -- "$cur"))
	else
		COMPREPLY=($(compgen -f -- "$cur"))
	fi
}
complete -F _lia lia
