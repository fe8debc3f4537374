/* Start-up and main loop of `joytify-notifier serve` (serve.h): the admin token read, the
 * database and the brokers reached, the console served until SIGTERM or SIGINT. */
#include "serve.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jt_jobs.h"
#include "jt_kafka.h"
#include "jt_kafka_admin.h"
#include "jt_log.h"
#include "jt_mongo.h"
#include "jt_options.h"
#include "jt_signal.h"
#include "jt_startup.h"
#include "web.h"

#define TOKEN_MIN 16
#define TOKEN_MAX 512

/* The token: the file's first line, at least TOKEN_MIN bytes, in a file only its owner reads. */
static bool read_token(const char *path, char **token, jt_error_t *err) {
        char buf[TOKEN_MAX + 2];
        struct stat st;
        size_t n;
        FILE *f = fopen(path, "r");

        *token = NULL;
        if (!f)
                return jt_error_set(err, JT_ERR_CONFIG, errno, "--admin-token-file %s: %s", path,
                                    strerror(errno));
        if (fstat(fileno(f), &st) == 0 && (st.st_mode & 077)) {
                fclose(f);
                return jt_error_set(err, JT_ERR_CONFIG, 0,
                                    "--admin-token-file %s: readable by others (mode %03o); "
                                    "expected 600 or 400",
                                    path, (unsigned)(st.st_mode & 0777));
        }
        n = fgets(buf, sizeof(buf), f) ? strcspn(buf, "\r\n") : 0;
        fclose(f);
        buf[n] = '\0';
        if (n < TOKEN_MIN || n > TOKEN_MAX)
                return jt_error_set(err, JT_ERR_CONFIG, 0,
                                    "--admin-token-file %s: the token must be %d..%d bytes on the "
                                    "first line (got %zu)",
                                    path, TOKEN_MIN, TOKEN_MAX, n);
        *token = strdup(buf);
        return *token != NULL || jt_error_set(err, JT_ERR_SYSTEM, 0, "out of memory");
}

/* --producer-path, else joytify-producer beside this program (installed), else in the build
 * tree's producer/ beside notifier/. */
static void find_producer(const jt_config_t *cfg, char *out, size_t size) {
        const char *given = jt_config_str(cfg, "producer-path");
        char exe[4096];
        ssize_t n;

        if (given && *given) {
                snprintf(out, size, "%s", given);
                return;
        }
        n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
        exe[n > 0 ? n : 0] = '\0';
        snprintf(out, size, "%s/joytify-producer", dirname(exe));
        if (access(out, X_OK) != 0)
                snprintf(out, size, "%s/../producer/joytify-producer", exe);
}

static bool open_web(jt_web_t *web, const jt_config_t *cfg, jt_error_t *err) {
        jt_kafka_opts_t kafka = jt_kafka_opts_from_config(cfg);
        const char *listen = jt_config_str(cfg, "listen");

        web->cfg = cfg;
        web->db = jt_config_str(cfg, "db");
        web->posts_group = jt_config_str(cfg, "notifier-group");
        web->replay_group = JT_WEB_REPLAY_GROUP;
        pthread_mutex_init(&web->lock, NULL);
        find_producer(cfg, web->producer_path, sizeof(web->producer_path));
        if (jt_config_str(cfg, "admin-token-file") &&
            !read_token(jt_config_str(cfg, "admin-token-file"), &web->admin_token, err))
                return false;
        if (!jt_jobs_new_nonce(web->csrf, err))
                return false;
        if (!(web->pool = jt_startup_mongo(cfg, "joytify-notifier-serve", err)) ||
            !(web->rk = jt_kafka_producer_new(&kafka, err)) ||
            !jt_kafka_admin_check_reachable(web->rk, &kafka, err))
                return false;
        /* Loopback when the address says so or names no host ("8080", ":8080"). */
        web->loopback = strncmp(listen, "127.", 4) == 0 || strncmp(listen, "localhost:", 10) == 0 ||
                        strncmp(listen, "[::1]:", 6) == 0 ||
                        strspn(listen + (listen[0] == ':'), "0123456789") ==
                            strlen(listen + (listen[0] == ':'));
        return true;
}

int jt_serve_run(const jt_config_t *cfg) {
        jt_web_t web = {0};
        jt_http_t *http = NULL;
        jt_error_t err;
        int code = JT_EXIT_FAILURE;

        jt_error_clear(&err);
        if (!jt_options_apply_log(cfg, "notifier", &err))
                return jt_startup_fail(cfg, &err);
        jt_signal_install_stop();
        if (!open_web(&web, cfg, &err) ||
            !(http = jt_http_start_requests(jt_config_str(cfg, "listen"), "--listen", NULL,
                                            jt_web_handle, &web, &err))) {
                code = jt_startup_fail(cfg, &err);
                goto done;
        }
        web.port = jt_http_port(http);
        jt_log_info("console on http://%s (port %d): %s", jt_config_str(cfg, "listen"), web.port,
                    web.admin_token ? "admin actions with the token of --admin-token-file"
                                    : "read-only (no --admin-token-file)");
        while (!jt_signal_stop_requested())
                usleep(100 * 1000);
        jt_log_info("stopping the console");
        code = JT_EXIT_OK;
done:
        jt_http_stop(http);
        jt_web_action_join(&web);
        jt_kafka_destroy(web.rk);
        if (web.pool)
                jt_mongo_pool_destroy(web.pool);
        free(web.admin_token);
        pthread_mutex_destroy(&web.lock);
        return code;
}
