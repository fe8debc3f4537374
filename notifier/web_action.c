/* The console's admin actions (web.h): replaying a job's dead letters and discarding one dead
 * letter. They exist only when serve has an admin token (else every /api/action path is 404),
 * and a POST runs one only with the token (X-Admin-Token), the page's CSRF token
 * (X-CSRF-Token) and an Origin that is this server: a page of another site can neither read the
 * CSRF token nor forge the Origin. Each request is logged, accepted or refused. The action runs
 * `joytify-producer replay --dlq` (the same code as on the command line), found beside the
 * notifier or given by --producer-path, on a thread of its own: the page polls GET /api/action. */
#define _GNU_SOURCE /* pipe2 */
#include "web.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "jt_log.h"
#include "jt_time.h"

#define ACTION_TIMEOUT_MS 120000
#define MAX_ARGS          64
#define ALLOW_POST        "Allow: POST\r\n"

extern char **environ;

/* Equal strings, in a time that does not depend on where they differ. */
static bool same_secret(const char *a, const char *b) {
        size_t la = a ? strlen(a) : 0, lb = b ? strlen(b) : 0;
        unsigned char diff = la != lb;

        for (size_t i = 0; a && b && i < la && i < lb; i++)
                diff |= (unsigned char)(a[i] ^ b[i]);
        return a && b && diff == 0;
}

/* Why the request may not act, or NULL: token, CSRF token, Origin (and Sec-Fetch-Site). */
static const char *refusal(const jt_web_t *web, const jt_http_request_t *req) {
        const char *origin = jt_http_request_header(req, "Origin");
        const char *host = jt_http_request_header(req, "Host");
        const char *site = jt_http_request_header(req, "Sec-Fetch-Site");
        char want[300];

        if (!same_secret(jt_http_request_header(req, "X-Admin-Token"), web->admin_token))
                return "missing or wrong admin token (X-Admin-Token)";
        if (!same_secret(jt_http_request_header(req, "X-CSRF-Token"), web->csrf))
                return "missing or wrong CSRF token (X-CSRF-Token)";
        snprintf(want, sizeof(want), "http://%s", host ? host : "");
        if (!origin || !host || strcmp(origin, want) != 0)
                return "Origin is not this server";
        if (site && strcmp(site, "same-origin") != 0)
                return "Sec-Fetch-Site is not same-origin";
        return NULL;
}

/* A job id as the ledger has them: printable, no space, 1..255 bytes. */
static bool job_ok(const char *job) {
        size_t n = job ? strlen(job) : 0;

        for (size_t i = 0; i < n; i++)
                if ((unsigned char)job[i] <= ' ' || job[i] == 0x7f)
                        return false;
        return n > 0 && n < 256;
}

static bool number_ok(const char *text, int64_t max) {
        char *end;
        long long v;

        if (!text || *text < '0' || *text > '9')
                return false;
        errno = 0;
        v = strtoll(text, &end, 10);
        return errno == 0 && *end == '\0' && v <= max;
}

/* The replay command for the action: the DLQ of this console's brokers and topics. */
static int build_argv(const jt_web_t *web, const char *kind, const char *a, const char *b,
                      char **argv, char (*store)[600]) {
        const jt_config_t *cfg = web->cfg;
        size_t kv_count = 0;
        const jt_kv_t *kv = jt_config_kv(cfg, "X", &kv_count);
        int n = 0;

        argv[n++] = (char *)web->producer_path;
        argv[n++] = "replay";
        argv[n++] = "--dlq";
        argv[n++] = "--dlq-topic";
        argv[n++] = (char *)jt_config_str(cfg, "dlq-topic");
        argv[n++] = "--brokers";
        argv[n++] = (char *)jt_config_str(cfg, "brokers");
        for (size_t i = 0; i < kv_count && n < MAX_ARGS - 8; i++) {
                snprintf(store[i], sizeof(store[i]), "%s=%s", kv[i].key, kv[i].value);
                argv[n++] = "-X";
                argv[n++] = store[i];
        }
        if (strcmp(kind, "replay") == 0) {
                argv[n++] = "--filter-job";
                argv[n++] = (char *)a;
        } else {
                argv[n++] = "--partition";
                argv[n++] = (char *)a;
                argv[n++] = "--offset";
                argv[n++] = (char *)b;
                argv[n++] = "--discard";
        }
        argv[n] = NULL;
        return n;
}

typedef struct {
        jt_web_t *web;
        pid_t pid;
        int fd; /* the child's stdout and stderr */
} runner_t;

/* Reads the child's output into the action (the first JT_WEB_OUTPUT_MAX bytes), kills it past
 * ACTION_TIMEOUT_MS, and records its exit. */
static void *run_action(void *arg) {
        runner_t *r = arg;
        jt_web_action_t *a = &r->web->action;
        int64_t deadline = jt_time_mono_ms() + ACTION_TIMEOUT_MS;
        char buf[4096];
        ssize_t got;
        size_t len = 0;
        int status = 0;

        for (;;) {
                struct pollfd pfd = {r->fd, POLLIN, 0};
                int ready = poll(&pfd, 1, 1000);

                if (jt_time_mono_ms() > deadline) /* a child that hangs, silent or not */
                        kill(r->pid, SIGKILL);
                if (ready == 0 || (ready < 0 && errno == EINTR))
                        continue;
                if (ready < 0 || (got = read(r->fd, buf, sizeof(buf))) == 0)
                        break;
                if (got < 0 && errno == EINTR)
                        continue;
                if (got < 0)
                        break;
                pthread_mutex_lock(&r->web->lock);
                len = strlen(a->output);
                if (len + 1 < sizeof(a->output))
                        snprintf(a->output + len, sizeof(a->output) - len, "%.*s", (int)got, buf);
                pthread_mutex_unlock(&r->web->lock);
        }
        close(r->fd);
        while (waitpid(r->pid, &status, 0) < 0 && errno == EINTR)
                ;
        pthread_mutex_lock(&r->web->lock);
        a->running = false;
        a->ended_ms = jt_time_wall_ms();
        a->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        jt_log_info("console action %s %s ended: exit %d", a->kind, a->target, a->exit_code);
        pthread_mutex_unlock(&r->web->lock);
        free(r);
        return NULL;
}

/* Spawns the producer with its output on a pipe read by run_action's thread. */
static bool spawn(jt_web_t *web, char **argv, jt_error_t *err) {
        posix_spawn_file_actions_t fa;
        runner_t *r = calloc(1, sizeof(*r));
        int fds[2] = {-1, -1}, rc;

        if (!r || pipe2(fds, O_CLOEXEC) != 0) {
                free(r);
                return jt_error_set(err, JT_ERR_SYSTEM, errno, "no pipe for the action");
        }
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
        posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
        /* Nothing of the server's (its listening socket, database and broker connections) goes
         * to the child, whatever flags their libraries opened them with. */
        posix_spawn_file_actions_addclosefrom_np(&fa, 3);
        rc = posix_spawn(&r->pid, argv[0], &fa, NULL, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        close(fds[1]);
        if (rc != 0) {
                close(fds[0]);
                free(r);
                return jt_error_set(err, JT_ERR_SYSTEM, rc, "cannot run %s: %s", argv[0],
                                    strerror(rc));
        }
        r->web = web;
        r->fd = fds[0];
        if ((rc = pthread_create(&web->action_thread, NULL, run_action, r)) != 0) {
                kill(r->pid, SIGKILL);
                waitpid(r->pid, NULL, 0);
                close(r->fd);
                free(r);
                return jt_error_set(err, JT_ERR_SYSTEM, rc, "no thread for the action");
        }
        web->action_thread_started = true;
        return true;
}

/* Starts kind on target (a job, or partition a and offset b); 409 while one runs. */
static bool start(jt_web_t *web, const char *kind, const char *a, const char *b,
                  jt_http_reply_t *reply) {
        char *argv[MAX_ARGS + 1];
        static char store[MAX_ARGS][600];
        jt_web_action_t *act = &web->action;
        jt_error_t err;
        bool started;

        pthread_mutex_lock(&web->lock);
        if (act->running) {
                pthread_mutex_unlock(&web->lock);
                return jt_web_reply_error(reply, 409, "another action is running");
        }
        pthread_mutex_unlock(&web->lock);
        jt_web_action_join(web);
        memset(act, 0, sizeof(*act));
        snprintf(act->kind, sizeof(act->kind), "%s", kind);
        snprintf(act->target, sizeof(act->target), b ? "partition %s offset %s" : "job %s", a, b);
        act->started = act->running = true;
        act->started_ms = jt_time_wall_ms();
        build_argv(web, kind, a, b, argv, store);
        jt_error_clear(&err);
        started = spawn(web, argv, &err);
        if (!started) {
                pthread_mutex_lock(&web->lock);
                act->running = false;
                act->exit_code = -1;
                snprintf(act->output, sizeof(act->output), "%s\n", err.message);
                pthread_mutex_unlock(&web->lock);
                jt_log_error("console action %s %s: %s", kind, act->target, err.message);
                return jt_web_reply_error(reply, 500, err.message);
        }
        jt_log_info("console action %s %s started", kind, act->target);
        return jt_web_reply_json(reply, 202,
                                 json_pack("{s:s, s:s}", "kind", act->kind, "target", act->target));
}

/* 405 with "Allow: POST". */
static bool reply_not_post(jt_http_reply_t *reply) {
        char *more;

        if (!jt_web_reply_error(reply, 405, "an action is a POST"))
                return false;
        if (!(more = realloc(reply->headers, strlen(reply->headers) + sizeof(ALLOW_POST))))
                return false; /* reply->headers is still the server's to free */
        reply->headers = strcat(more, ALLOW_POST);
        return true;
}

static bool action_state(jt_web_t *web, jt_http_reply_t *reply) {
        jt_web_action_t *a = &web->action;
        json_t *doc;

        pthread_mutex_lock(&web->lock);
        doc = json_pack("{s:b, s:b, s:s, s:s, s:i, s:I, s:I, s:s}", "started", a->started,
                        "running", a->running, "kind", a->kind, "target", a->target, "exit_code",
                        a->exit_code, "started_ms", (json_int_t)a->started_ms, "ended_ms",
                        (json_int_t)a->ended_ms, "output", a->output);
        pthread_mutex_unlock(&web->lock);
        return jt_web_reply_json(reply, 200, doc);
}

bool jt_web_action_answer(jt_web_t *web, const jt_http_request_t *req, jt_http_reply_t *reply,
                          bool *ok) {
        const char *path = jt_http_request_path(req), *why;
        bool post = strcmp(jt_http_request_method(req), "POST") == 0;
        const char *job = jt_http_request_arg(req, "job");
        const char *part = jt_http_request_arg(req, "partition");
        const char *off = jt_http_request_arg(req, "offset");
        bool replay = strcmp(path, "/api/action/replay") == 0;

        if (strncmp(path, "/api/action", 11) != 0)
                return false;
        if (!web->admin_token) {
                *ok = jt_web_reply_error(reply, 404, "read-only console: no action");
                return true;
        }
        if (strcmp(path, "/api/action") == 0 && !post) {
                *ok = action_state(web, reply);
                return true;
        }
        if (!replay && strcmp(path, "/api/action/discard") != 0) {
                *ok = jt_web_reply_error(reply, 404, "no such action");
                return true;
        }
        if (!post) {
                *ok = reply_not_post(reply);
                return true;
        }
        if ((why = refusal(web, req))) {
                jt_log_warn("console action %s refused: %s", path + 12, why);
                *ok = jt_web_reply_error(reply, 403, why);
        } else if (replay ? !job_ok(job)
                          : !number_ok(part, INT32_MAX) || !number_ok(off, INT64_MAX)) {
                *ok = jt_web_reply_error(reply, 400,
                                         replay ? "replay needs ?job=ID"
                                                : "discard needs ?partition=P&offset=O");
        } else {
                *ok = replay ? start(web, "replay", job, NULL, reply)
                             : start(web, "discard", part, off, reply);
        }
        return true;
}

void jt_web_action_join(jt_web_t *web) {
        if (web->action_thread_started)
                pthread_join(web->action_thread, NULL);
        web->action_thread_started = false;
}
