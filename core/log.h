/*
 * log.h - one line per event, to stderr (or a sink the host installs).
 * Levels follow syslog so a journal prefix (<3>..<7>) can be added later.
 */
#ifndef LIA_LOG_H
#define LIA_LOG_H

enum log_level { LOG_ERROR = 3, LOG_WARN = 4, LOG_INFO = 6, LOG_DEBUG = 7 };

/* A sink receives one formatted line without a trailing newline. */
typedef void log_sink_fn(int level, const char *line, void *ud);

void log_set_level(int level);
int log_get_level(void);
void log_set_sink(log_sink_fn *fn, void *ud);  /* NULL: stderr */
/* A tap sees every line that is logged, besides the sink: the message
 * only (no timestamp, no level word). The fleet agent's remote log. A
 * line logged from inside the tap is not tapped again. */
void log_set_tap(log_sink_fn *fn, void *ud);
/* Prefix lines with a local "YYYY-mm-ddTHH:MM:SS.mmm" timestamp (default on);
 * off when a journal adds its own. */
void log_set_timestamps(int on);
/* Journal format (off by default): each line starts with "<N>", N its
 * syslog level, which systemd's journal reads as the priority and strips;
 * no timestamp (the journal keeps its own). */
void log_set_journal(int on);
/* 1 when stderr is the stream systemd connected to the journal (the
 * device:inode in $JOURNAL_STREAM are stderr's), else 0. */
int log_stderr_is_journal(void);
const char *log_level_name(int level);         /* "error", "warn", ... */
int log_level_by_name(const char *name);       /* -1 when unknown */

void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
