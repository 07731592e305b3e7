/*
 * test_log.c - line format, level filter, truncation, level names.
 */
#include "log.h"
#include "test.h"

#include <ctype.h>
#include <stdlib.h>
#include <sys/stat.h>

static char last[2048];
static int last_level, lines;

static void capture(int level, const char *line, void *ud)
{
	(void)ud;
	last_level = level;
	lines++;
	snprintf(last, sizeof(last), "%s", line);
}

static void test_format_and_filter(void)
{
	const char *p = last, *shape = "dddd-dd-ddTdd:dd:dd.ddd";

	log_set_sink(capture, NULL);
	log_set_timestamps(1);
	lines = 0;
	log_info("hello %d", 42);
	CHECK_EQ_INT(lines, 1);
	CHECK_EQ_INT(last_level, LOG_INFO);
	/* YYYY-mm-ddTHH:MM:SS.mmm */
	CHECK(strlen(last) == 23 + strlen(" info hello 42"));
	for (int i = 0; i < 23; i++)
		CHECK(shape[i] == 'd' ? isdigit((unsigned char)p[i]) : p[i] == shape[i]);
	CHECK(strcmp(last + 23, " info hello 42") == 0);
	log_debug("dropped");
	CHECK_EQ_INT(lines, 1);
	log_set_level(LOG_DEBUG);
	log_debug("kept");
	CHECK_EQ_INT(lines, 2);
	log_set_level(LOG_ERROR);
	log_warn("dropped");
	log_error("kept");
	CHECK_EQ_INT(lines, 3);
	log_set_level(LOG_INFO);
	log_set_timestamps(0);
	log_warn("two\nlines\n");
	CHECK(strcmp(last, "warn two lines") == 0);
	log_set_timestamps(1);
	log_set_sink(NULL, NULL);
}

static void test_truncation(void)
{
	char big[3000];

	memset(big, 'y', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	log_set_sink(capture, NULL);
	log_set_timestamps(0);
	log_error("%s", big);
	CHECK(strncmp(last, "error yyy", 9) == 0);
	CHECK(strlen(last) < 1100);
	CHECK(strcmp(last + strlen(last) - 4, "y...") == 0);
	log_set_timestamps(1);
	log_set_sink(NULL, NULL);
}

static void test_journal(void)
{
	char stream[64];
	struct stat st;

	log_set_sink(capture, NULL);
	log_set_journal(1);
	log_error("boom");
	CHECK(strcmp(last, "<3>error boom") == 0);
	log_warn("careful");
	CHECK(strcmp(last, "<4>warn careful") == 0);
	log_info("hi");
	CHECK(strcmp(last, "<6>info hi") == 0);
	log_set_journal(0);
	log_set_sink(NULL, NULL);
	/* JOURNAL_STREAM names stderr's device:inode when systemd set it up */
	unsetenv("JOURNAL_STREAM");
	CHECK_EQ_INT(log_stderr_is_journal(), 0);
	CHECK(fstat(2, &st) == 0);
	snprintf(stream, sizeof(stream), "%llu:%llu", (unsigned long long)st.st_dev,
		(unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", stream, 1);
	CHECK_EQ_INT(log_stderr_is_journal(), 1);
	setenv("JOURNAL_STREAM", "1:2", 1);
	CHECK_EQ_INT(log_stderr_is_journal(), 0);
	unsetenv("JOURNAL_STREAM");
}

static void test_names(void)
{
	CHECK(strcmp(log_level_name(LOG_ERROR), "error") == 0);
	CHECK(strcmp(log_level_name(LOG_WARN), "warn") == 0);
	CHECK(strcmp(log_level_name(LOG_INFO), "info") == 0);
	CHECK(strcmp(log_level_name(LOG_DEBUG), "debug") == 0);
	CHECK_EQ_INT(log_level_by_name("debug"), LOG_DEBUG);
	CHECK_EQ_INT(log_level_by_name("WARN"), LOG_WARN);
	CHECK_EQ_INT(log_level_by_name("warning"), LOG_WARN);
	CHECK_EQ_INT(log_level_by_name("loud"), -1);
	CHECK_EQ_INT(log_level_by_name(NULL), -1);
	CHECK_EQ_INT(log_get_level(), LOG_INFO);
}

int main(void)
{
	RUN(test_format_and_filter);
	RUN(test_truncation);
	RUN(test_journal);
	RUN(test_names);
	return test_report("log");
}
