/*
 * cli_bundle.c - lia keygen NAME, lia bundle sign, and the hand-over of
 * lia bundle push / lia fleet to lua/lib/fleet_cli.lua (cli_bundle.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "args.h"
#include "cli_bundle.h"
#include "lcjson.h"
#include "lfleet_bundle.h"

bool cli_bundle_is(const char *cmd)
{
	return strcmp(cmd, "keygen") == 0 || strcmp(cmd, "bundle") == 0 ||
		strcmp(cmd, "fleet") == 0;
}

static int usage(void)
{
	fputs("usage: lia keygen NAME                 NAME.key (private, 0600) and NAME.pub\n"
		"       lia bundle sign --key NAME.key --id ID --version V [--main F] [-o OUT] FILE.lua...\n"
		"       lia bundle push [-h HOST] [-p PORT] [-L URI] [--prefix P] BUNDLE.json\n"
		"             (--id DEV ... | --all | --group G) [--canary N --then-all] [--timeout S]\n"
		"       lia fleet [-h HOST] [-p PORT] [-L URI] [--prefix P] [--once] [--timeout S]\n"
		"see docs/fleet.md\n", stderr);
	return 1;
}

static unsigned char *slurp(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	unsigned char *p = NULL;
	long len;
	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) >= 0 && len <= BUNDLE_MAX_BYTES &&
			fseek(f, 0, SEEK_SET) == 0 && (p = malloc((size_t)len + 1)) &&
			fread(p, 1, (size_t)len, f) == (size_t)len) {
		*n = (size_t)len;
	} else {
		free(p);
		p = NULL;
	}
	fclose(f);
	return p;
}

static int add_file(struct bundle *b, const char *path)
{
	const char *slash = strrchr(path, '/');
	char why[300];
	size_t n;
	unsigned char *p = slurp(path, &n);
	int r;
	if (!p) {
		fprintf(stderr, "lia bundle sign: %s: cannot read it (or larger than 1 MiB)\n", path);
		return -1;
	}
	r = bundle_add(b, slash ? slash + 1 : path, p, n, why, sizeof why);
	free(p);
	if (r < 0)
		fprintf(stderr, "lia bundle sign: %s: %s\n", path, why);
	return r;
}

static int write_out(const char *out, const char *text)
{
	FILE *f = out ? fopen(out, "w") : stdout;
	size_t n = strlen(text);
	if (!f || fwrite(text, 1, n, f) != n || fputc('\n', f) == EOF ||
			(out ? fclose(f) : fflush(f)) != 0) {
		fprintf(stderr, "lia bundle sign: %s: cannot write it\n", out ? out : "stdout");
		return 1;
	}
	return 0;
}

/* lia bundle sign OPTIONS FILE...: the signed JSON on stdout or -o OUT. */
static int sign(int argc, char **argv)
{
	static struct bundle b;
	const char *key = NULL, *out = NULL, *main_name = NULL;
	char why[600];
	char *text;
	int r = 1;
	memset(&b, 0, sizeof b);
	for (int i = 0; i < argc; i++) {
		const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		bool valued = !strcmp(o, "--key") || !strcmp(o, "--id") || !strcmp(o, "--version") ||
			!strcmp(o, "--main") || !strcmp(o, "-o");
		if (valued && !v)
			return fprintf(stderr, "lia bundle sign: %s needs a value\n", o), 1;
		if (valued)
			i++;
		if (!strcmp(o, "--key"))
			key = v;
		else if (!strcmp(o, "-o"))
			out = v;
		else if (!strcmp(o, "--main"))
			main_name = v;
		else if (!strcmp(o, "--id"))
			snprintf(b.id, sizeof b.id, "%s", v);
		else if (!strcmp(o, "--version"))
			snprintf(b.version, sizeof b.version, "%s", v);
		else if (o[0] == '-')
			return fprintf(stderr, "lia bundle sign: unknown option %s\n", o), 1;
		else if (add_file(&b, o) < 0)
			goto done;
		if (!valued && o[0] != '-' && !main_name && b.nfiles == 1)
			main_name = strrchr(o, '/') ? strrchr(o, '/') + 1 : o;
	}
	if (!key || !b.id[0] || !b.version[0] || !b.nfiles) {
		fputs("lia bundle sign: --key, --id, --version and at least one .lua file are "
			"needed\n", stderr);
		goto done;
	}
	snprintf(b.main, sizeof b.main, "%s", main_name);
	if (bundle_sign(&b, key, why, sizeof why) < 0) {
		fprintf(stderr, "lia bundle sign: %s\n", why);
		goto done;
	}
	if (!(text = bundle_json(&b))) {
		fputs("lia bundle sign: out of memory\n", stderr);
		goto done;
	}
	/* the message goes through the agent's own parser: what the devices
	 * would refuse (a bad id, more than 1 MiB) is refused here */
	{
		struct bundle check;
		if (bundle_parse(text, strlen(text), &check, why, sizeof why) < 0) {
			fprintf(stderr, "lia bundle sign: %s\n", why);
			bundle_free(&check);
			free(text);
			goto done;
		}
		bundle_free(&check);
	}
	r = write_out(out, text);
	free(text);
done:
	bundle_free(&b);
	return r;
}

int cli_bundle_main(int argc, char **argv, struct lia_args *a, const char **fn)
{
	char why[600];
	const char *missing = lcjson_load();
	*fn = NULL;
	if (missing)
		return fprintf(stderr, "lia %s: %s\n", argv[0], missing), 1;
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--help")) {
			usage();
			return 0;
		}
	if (!strcmp(argv[0], "keygen")) {
		if (argc != 2 || argv[1][0] == '-')
			return usage();
		if (bundle_keygen(argv[1], why, sizeof why) < 0)
			return fprintf(stderr, "lia keygen: %s\n", why), 1;
		printf("%s.key (keep it secret) and %s.pub (copy it to /etc/lia/trusted.d/ on the "
			"devices)\n", argv[1], argv[1]);
		return 0;
	}
	if (!strcmp(argv[0], "bundle") && argc >= 2 && !strcmp(argv[1], "sign"))
		return sign(argc - 2, argv + 2);
	args_init(a);
	if (!strcmp(argv[0], "bundle") && argc >= 2 && !strcmp(argv[1], "push")) {
		*fn = "bundle_push";
		a->script_argv = argv + 2;
		a->script_argc = argc - 2;
	} else if (!strcmp(argv[0], "fleet")) {
		*fn = "fleet";
		a->script_argv = argv + 1;
		a->script_argc = argc - 1;
	} else {
		return usage();
	}
	a->tty = isatty(STDOUT_FILENO);
	return 0;
}
