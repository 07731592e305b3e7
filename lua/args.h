/*
 * args.h - the command line of lia run / pub / sub as main.c parsed it.
 * Plain C (no Lua): main.c fills it, the host turns it into a Lua table
 * (args_push) for the default client and for the embedded lia.cli module.
 * Strings point into argv (or static storage) and are not copied.
 */
#ifndef LIA_ARGS_H
#define LIA_ARGS_H

#include <stdbool.h>

struct lua_State;

#define ARGS_MAX_TOPICS 64
#define ARGS_MAX_PROPS 32

struct lia_args {
	/* broker and session (-1 / NULL: not given) */
	const char *host;
	int port;
	const char *uri;                /* --broker / -L */
	const char *id;
	const char *username;
	const char *password;
	int keepalive;
	int protocol;                   /* 3, 4, 5 */
	int qos;
	bool no_clean;                  /* -c */
	long long session_expiry;       /* -x: up to 2^32-1, past a 32-bit long */
	const char *will_topic;
	const char *will_payload;
	int will_qos;
	bool will_retain;
	/* TLS (any of these turns it on, as in mosquitto_pub) and proxy */
	const char *cafile, *capath, *cert, *key, *keypass, *alpn, *ciphers, *tls_version;
	bool insecure;
	const char *proxy;              /* --proxy socks5://h:p | http://h:p | none */
	bool debug;                     /* -d */
	bool verbose;                   /* run: tracebacks; sub: print topics */
	/* pub */
	const char *message;            /* -m */
	char mode;                      /* 'm', 'l', 'n', 's', 'f' */
	const char *file;               /* -f */
	bool retain;                    /* -r */
	int repeat;                     /* --repeat */
	/* pub: one topic, sub: filters */
	const char *topics[ARGS_MAX_TOPICS];
	int ntopics;
	/* sub */
	int count;                      /* -C */
	int timeout;                    /* -W */
	bool no_newline;                /* -N */
	bool skip_retained;             /* -R */
	/* pub and sub: the mosquitto_pub / mosquitto_sub options */
	bool retry;                     /* --retry: keep trying to connect */
	bool quiet;                     /* --quiet: no error messages */
	const char *id_prefix;          /* -I: client id = prefix + pid */
	const char *bind_address;       /* -A */
	const char *unix_path;          /* --unix PATH */
	int max_inflight;               /* pub -M */
	long repeat_delay_ms;           /* pub --repeat-delay S (seconds, fractions allowed) */
	const char *format;             /* sub -F */
	bool pretty;                    /* sub --pretty */
	bool exit_on_suback;            /* sub -E */
	bool retained_only;             /* sub --retained-only */
	bool remove_retained;           /* sub --remove-retained */
	const char *filter_out[ARGS_MAX_TOPICS];        /* sub -T */
	int nfilter_out;
	const char *unsub[ARGS_MAX_TOPICS];             /* sub -U */
	int nunsub;
	/* -D command identifier value [value]: MQTT 5 properties */
	struct args_prop { const char *cmd, *name, *value, *value2; } props[ARGS_MAX_PROPS];
	int nprops;
	/* run: the script's own arguments (lia script.lua a b -> arg[1..2]) */
	char **script_argv;
	int script_argc;
	/* run */
	const char *script;
	const char *hw;                 /* --hw linux|sim (NULL: linux) */
	const char *sim_models;         /* --sim models.lua */
	/* run and check: the configuration file (lua/config.h) */
	const char *config;             /* --config FILE */
	int log_level;                  /* log_level = ... (LOG_*; -1: not given) */
	const char *log_format;         /* --log-format text|journal */
	/* run: the data directory (core/datadir.h); main.c replaces what was
	 * given with the resolved path, NULL when there is none */
	const char *data_dir;           /* --data-dir DIR, config data_dir */
	/* run: field safety (docs/field.md) */
	/* (-1: not given; args_field_defaults fills them in) */
	int handler_budget_ms;          /* --handler-budget MS (default 1000, 0: none) */
	int memory_limit_mb;            /* --memory-limit MB (default 64, 0: none) */
	int quarantine;                 /* --quarantine N (default 5, 0: never) */
	int health_window_s;            /* --health-window S (default 30) */
	int health_errors;              /* --health-errors N (default 3) */
	int safe_mode_after;            /* --safe-mode-after N (default 3, 0: never) */
	bool no_watch;                  /* --no-watch: no reload on a changed .lua file */
	bool compile_only;              /* lia check --compile */
	/* run: the fleet agent (lua/lfleet.h, docs/fleet.md) */
	bool fleet;                     /* --fleet, config fleet = true */
	const char *fleet_prefix;       /* --fleet-prefix P (default "lia") */
	int status_interval_s;          /* --status-interval S (default 60; -1: not given) */
	const char *fleet_groups;       /* --fleet-group G[,G...]: lia/group/G/deploy */
	const char *trusted_dir;        /* --trusted-dir DIR (default /etc/lia/trusted.d) */
	int fleet_log_level;            /* --fleet-log-level (LOG_*; -1: not given: warn) */
	bool tty;                       /* lia fleet: stdout is a terminal */
};

/* Defaults: everything "not given". */
void args_init(struct lia_args *a);
/* After the command line and the configuration file: the defaults of the
 * field-safety options still not given (docs/field.md). */
void args_field_defaults(struct lia_args *a);
/* True when the command line named a broker (-h, -p, --broker, -L). */
bool args_broker_given(const struct lia_args *a);
/* Push a table with the fields above (absent ones left out). Raises on
 * out of memory (call it inside a protected call). */
void args_push(struct lua_State *L, const struct lia_args *a);

/* The global `arg` of lia run, as lua(1) sets it: arg[0] the script,
 * arg[1..n] what followed it on the command line. Raises on out of memory. */
void args_set_script_arg(struct lua_State *L, const struct lia_args *a);

/* The checks every option gets, whether it comes from the command line or
 * the configuration file (lua/args_check.c): the caller names the place
 * (option or file:line). 0, or -1 with a one-line reason in err. */
int args_check_broker(const char *v, char *err, size_t errlen);
int args_check_topic(const char *v, char *err, size_t errlen);
int args_check_file(const char *v, char *err, size_t errlen);
int args_check_dir(const char *v, char *err, size_t errlen);
int args_check_tls_version(const char *v, char *err, size_t errlen);
int args_check_proxy(const char *v, char *err, size_t errlen);
/* A whole number in the range of the option whose configuration key is
 * key ("port", "will.qos", "handler_budget"; the command-line options use
 * the same keys). 0 and *out, or -1 and the reason. */
int args_check_number(const char *key, const char *v, long long *out, char *err, size_t errlen);
/* One of an option's named values (key "protocol": 31|311|5|mqttv311...,
 * "hw", "log_format", "log_level"): 0 and the value it stands for, or -1. */
int args_check_choice(const char *key, const char *v, int *out, char *err, size_t errlen);
/* Options that contradict each other, once everything is merged; the
 * reason names the options both ways (-c / clean). */
int args_check_combination(const struct lia_args *a, char *err, size_t errlen);

#endif
