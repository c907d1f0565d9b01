// SPDX-License-Identifier: GPL-2.0-only
/*
 * qmp: a minimal QMP client for the test bed, which has no QMP tooling:
 * a pipe chardev needs neither sockets nor a client library.
 * QEMU's monitor sits on a pipe chardev (-chardev pipe,id=X,path=BASE
 * -mon chardev=X,mode=control: FIFOs BASE.in and BASE.out); the session
 * outlives each call, so the first call sends qmp_capabilities itself.
 * Sends each COMMAND (a JSON object) and prints its reply on one line,
 * skipping the greeting and asynchronous events.
 *
 * usage: qmp BASE COMMAND...
 * Exit status: 0 if every command returned, 1 on an error reply or an I/O
 * problem (with a message naming it).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

static FILE *qmp_in;
static int qmp_fd;

/* Read one reply line that is not an event; NULL when the socket closes. */
static char *read_reply(void)
{
	static char *line;
	static size_t size;

	while (getline(&line, &size, qmp_in) > 0) {
		if (strstr(line, "\"event\"") || strstr(line, "\"QMP\""))
			continue;
		return line;
	}
	return NULL;
}

static int execute(const char *command)
{
	char *reply;

	if (dprintf(qmp_fd, "%s\n", command) < 0) {
		fprintf(stderr, "qmp: sending %s: %s\n", command, strerror(errno));
		return 1;
	}
	reply = read_reply();
	if (!reply) {
		fprintf(stderr, "qmp: no reply to %s\n", command);
		return 1;
	}
	fputs(reply, stdout);
	return strstr(reply, "\"return\"") ? 0 : 1;
}

int main(int argc, char **argv)
{
	char path[4096];
	int i, in_fd, status = 0;

	if (argc < 3) {
		fprintf(stderr, "usage: qmp BASE COMMAND...\n");
		return 1;
	}
	snprintf(path, sizeof(path), "%s.out", argv[1]);
	in_fd = open(path, O_RDONLY);
	qmp_in = in_fd < 0 ? NULL : fdopen(in_fd, "r");
	if (!qmp_in) {
		fprintf(stderr, "qmp: opening %s: %s\n", path, strerror(errno));
		return 1;
	}
	snprintf(path, sizeof(path), "%s.in", argv[1]);
	qmp_fd = open(path, O_WRONLY);
	if (qmp_fd < 0) {
		fprintf(stderr, "qmp: opening %s: %s\n", path, strerror(errno));
		return 1;
	}
	for (i = 2; i < argc; i++)
		status |= execute(argv[i]);
	return status;
}
