/* Option tables: defaults, environment, command line, validation messages, -X pairs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "jt_config.h"
#include "jt_kafka.h"
#include "jt_mongo.h"
#include "jt_options.h"

static const jt_opt_t test_opts[] = {
    {"shards", 0, JT_OPT_INT, "16", 1, 4096, NULL, false, "N", "shards"},
    {"month", 0, JT_OPT_STRING, NULL, 0, 0, NULL, false, "YYYY-MM", "month"},
    {"dry-run", 'n', JT_OPT_BOOL, NULL, 0, 0, NULL, false, NULL, "dry run"},
    {"token", 0, JT_OPT_STRING, NULL, 0, 0, "JT_TEST_TOKEN", true, "T", "a secret"},
    {NULL, 0, 0, NULL, 0, 0, NULL, false, NULL, NULL},
};
static const jt_opt_t *const test_tables[] = {test_opts, jt_opts_kafka, NULL};
static const jt_command_t test_cmd = {"test", "a test command", test_tables, NULL,
                                      NULL,   "ARGS",           NULL};

static const jt_opt_t *const mongo_tables[] = {jt_opts_mongo, NULL};
static const jt_command_t mongo_cmd = {"test", "a test command", mongo_tables, NULL, NULL, NULL,
                                       NULL};

static jt_config_t *parse(jt_error_t *err, int argc, ...) {
        char *argv[16];
        va_list ap;

        va_start(ap, argc);
        argv[0] = "prog test";
        for (int i = 1; i < argc; i++)
                argv[i] = va_arg(ap, char *);
        va_end(ap);
        argv[argc] = NULL;
        jt_error_clear(err);
        return jt_config_parse(&test_cmd, argc, argv, err);
}

static void defaults_apply(void **state) {
        jt_error_t err;
        jt_config_t *cfg = parse(&err, 1);

        assert_non_null(cfg);
        assert_int_equal(jt_config_int(cfg, "shards"), 16);
        assert_null(jt_config_str(cfg, "month"));
        assert_false(jt_config_bool(cfg, "dry-run"));
        assert_false(jt_config_is_set(cfg, "shards"));
        assert_string_equal(jt_config_str(cfg, "status-topic"), "joytify.status");
        jt_config_destroy(cfg);
}

static void command_line_overrides(void **state) {
        jt_error_t err;
        jt_config_t *cfg = parse(&err, 6, "--shards", "4096", "-n", "--month=2026-10", "extra");
        int nargs = 0;

        assert_non_null(cfg);
        assert_int_equal(jt_config_int(cfg, "shards"), 4096);
        assert_true(jt_config_is_set(cfg, "shards"));
        assert_true(jt_config_bool(cfg, "dry-run"));
        assert_string_equal(jt_config_str(cfg, "month"), "2026-10");
        char *const *args = jt_config_args(cfg, &nargs);
        assert_int_equal(nargs, 1);
        assert_string_equal(args[0], "extra");
        jt_config_destroy(cfg);
}

/* Each bad input and the exact message the user sees. */
static void bad_input_is_named(void **state) {
        static const struct {
                const char *args[3];
                const char *message;
        } cases[] = {
            {{"--shards", "0"}, "--shards must be 1..4096 (got 0)"},
            {{"--shards", "4097"}, "--shards must be 1..4096 (got 4097)"},
            {{"--shards", "12x"}, "--shards must be an integer in 1..4096 (got \"12x\")"},
            {{"--shards", ""}, "--shards must be an integer in 1..4096 (got \"\")"},
            {{"--bogus"}, "unknown option --bogus"},
            {{"-q"}, "unknown option -q"},
            {{"--month"}, "option --month needs a value"},
            {{"-X", "novalue"}, "--X expects key=value (got \"novalue\")"},
            {{"--token", "x"}, NULL}, /* accepted */
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                jt_error_t err;
                int argc = 1;
                char *argv[4] = {"prog test"};
                for (int k = 0; k < 3 && cases[i].args[k]; k++)
                        argv[argc++] = (char *)cases[i].args[k];
                argv[argc] = NULL;
                jt_error_clear(&err);
                jt_config_t *cfg = jt_config_parse(&test_cmd, argc, argv, &err);
                if (!cases[i].message) {
                        assert_non_null(cfg);
                        jt_config_destroy(cfg);
                        continue;
                }
                assert_null(cfg);
                assert_int_equal(err.domain, JT_ERR_CONFIG);
                assert_string_equal(err.message, cases[i].message);
        }
}

static void environment_fills_and_secret_not_echoed(void **state) {
        jt_error_t err;
        jt_config_t *cfg;

        setenv("JT_KAFKA_BROKERS", "10.0.0.1:9092", 1);
        setenv("JT_TEST_TOKEN", "s3cr3t", 1);
        cfg = parse(&err, 1);
        assert_non_null(cfg);
        assert_string_equal(jt_config_str(cfg, "brokers"), "10.0.0.1:9092");
        assert_true(jt_config_is_set(cfg, "brokers"));
        assert_string_equal(jt_config_str(cfg, "token"), "s3cr3t");
        jt_config_destroy(cfg);

        /* The command line wins over the environment. */
        cfg = parse(&err, 3, "--brokers", "127.0.0.1:1");
        assert_string_equal(jt_config_str(cfg, "brokers"), "127.0.0.1:1");
        jt_config_destroy(cfg);
        unsetenv("JT_KAFKA_BROKERS");
        unsetenv("JT_TEST_TOKEN");
}

static void kv_pairs_keep_order(void **state) {
        jt_error_t err;
        jt_config_t *cfg = parse(&err, 5, "-X", "linger.ms=7", "-X", "client.id=a=b");
        size_t n = 0;
        const jt_kv_t *kv;

        assert_non_null(cfg);
        kv = jt_config_kv(cfg, "X", &n);
        assert_int_equal(n, 2);
        assert_string_equal(kv[0].key, "linger.ms");
        assert_string_equal(kv[0].value, "7");
        assert_string_equal(kv[1].key, "client.id");
        assert_string_equal(kv[1].value, "a=b");
        jt_config_destroy(cfg);
}

static void kafka_settings_are_validated(void **state) {
        jt_kv_t bad_key[] = {{"no.such.setting", "1"}};
        jt_kv_t bad_value[] = {{"linger.ms", "banana"}};
        jt_kv_t secret_value[] = {{"sasl.password", "hunter2"}, {"socket.timeout.ms", "x"}};
        jt_kv_t good[] = {{"linger.ms", "7"}};
        jt_kafka_opts_t opts = {
            .brokers = "127.0.0.1:1", .settings = bad_key, .setting_count = 1, .timeout_ms = 1000};
        jt_error_t err;
        rd_kafka_conf_t *conf;

        jt_error_clear(&err);
        assert_null(jt_kafka_conf_new(&opts, &err));
        assert_string_equal(err.message, "-X no.such.setting: unknown librdkafka setting");

        opts.settings = bad_value;
        assert_null(jt_kafka_conf_new(&opts, &err));
        assert_non_null(strstr(err.message, "-X linger.ms: "));

        opts.settings = secret_value;
        opts.setting_count = 2;
        assert_null(jt_kafka_conf_new(&opts, &err));
        assert_null(strstr(err.message, "hunter2"));

        opts.settings = good;
        opts.setting_count = 1;
        conf = jt_kafka_conf_new(&opts, &err);
        assert_non_null(conf);
        rd_kafka_conf_destroy(conf);

        /* A consumer may not be switched back to storing offsets before the work is done. */
        jt_kv_t autostore[] = {{"enable.auto.offset.store", "true"}};
        opts.settings = autostore;
        assert_null(jt_kafka_consumer_new(&opts, "g", &err));
        assert_non_null(strstr(err.message, "enable.auto.offset.store=true"));
}

static void mongo_uri_is_redacted(void **state) {
        static const struct {
                const char *in, *out;
        } cases[] = {
            /* from the driver's parse: user name and password both hidden (issue 15) */
            {"mongodb://127.0.0.1:27017", "mongodb://127.0.0.1:27017"},
            {"mongodb://bob:pa55@db.example:27017/x", "mongodb://***@db.example:27017/x"},
            {"mongodb+srv://bob:p%40ss@cluster0.example.net/db?retryWrites=true",
             "mongodb+srv://***@cluster0.example.net/db?retrywrites=true&tls=true"},
            {"mongodb://onlyuser@h:1", "mongodb://***@h:1"},
            /* an '@' after the hosts could be a password's: nothing after the scheme shown */
            {"mongodb://h:1/db?authSource=a@b", "mongodb://<redacted>"},
            {"not a uri", "<redacted>"},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                char out[256];
                jt_mongo_uri_redact(cases[i].in, out, sizeof(out));
                assert_string_equal(out, cases[i].out);
        }
}

static void bad_mongo_uri_hides_password(void **state) {
        jt_error_t err;
        jt_error_clear(&err);
        assert_null(jt_mongo_pool_new("mongodb://bob:hunter2@/?bogus", "t", 1000, &err));
        assert_int_equal(err.domain, JT_ERR_CONFIG);
        assert_null(strstr(err.message, "hunter2"));
        assert_non_null(strstr(err.message, "--mongo-uri"));
}

/* The socket timeout the driver will use for a pool from --mongo-uri uri: the option as the
 * driver itself reads it, with its default (5 minutes) as the fallback. */
static int32_t socket_timeout_ms(const char *uri, bool long_ops) {
        char *argv[] = {"prog test", "--mongo-uri", (char *)uri, NULL};
        jt_error_t err;
        jt_config_t *cfg;
        mongoc_client_pool_t *pool;
        mongoc_client_t *client;
        int32_t ms;

        jt_error_clear(&err);
        cfg = jt_config_parse(&mongo_cmd, 3, argv, &err);
        assert_non_null(cfg);
        pool = jt_mongo_pool_from_config(cfg, "test", long_ops, &err);
        assert_non_null(pool);
        client = mongoc_client_pool_pop(pool);
        ms = mongoc_uri_get_option_as_int32(mongoc_client_get_uri(client),
                                            MONGOC_URI_SOCKETTIMEOUTMS, 300000);
        mongoc_client_pool_push(pool, client);
        jt_mongo_pool_destroy(pool);
        jt_config_destroy(cfg);
        return ms;
}

/* The loadtest's floor deletes 1.75M playbacks in one operation: its pool must outwait the
 * driver's 5 minutes (a socketTimeoutMS of 0 did not: the driver reads 0 as its default). */
static void long_ops_pools_outwait_the_default_socket_timeout(void **state) {
        (void)state;
        assert_int_equal(socket_timeout_ms("mongodb://127.0.0.1:1", false), 300000);
        assert_int_equal(socket_timeout_ms("mongodb://127.0.0.1:1", true),
                         JT_MONGO_LONG_OPS_TIMEOUT_MS);
        assert_true(JT_MONGO_LONG_OPS_TIMEOUT_MS > 300000);
        /* A timeout the operator set in the URI stays. */
        assert_int_equal(socket_timeout_ms("mongodb://127.0.0.1:1/?socketTimeoutMS=1234", true),
                         1234);
}

/* --write-concern takes "majority" or a node count; anything that could acknowledge a write
 * before it is durable (0, a word, garbage) stops the program with the option named. */
static void write_concern_is_validated(void **state) {
        static const struct {
                const char *w;
                long long wtimeout;
                const char *message; /* NULL: accepted */
        } cases[] = {
            {"majority", 10000, NULL},
            {"1", 1, NULL},
            {"50", 600000, NULL},
            {"0", 10000,
             "--write-concern must be \"majority\" or a number of nodes 1..50 (got \"0\")"},
            {"-1", 10000, "(got \"-1\")"},
            {"51", 10000, "(got \"51\")"},
            {"most", 10000, "(got \"most\")"},
            {"2x", 10000, "(got \"2x\")"},
            {"", 10000, "(got \"\")"},
            {"majority", 0, "--write-timeout must be 1..600000 milliseconds (got 0)"},
            {"majority", 600001, "--write-timeout must be 1..600000 milliseconds (got 600001)"},
        };
        (void)state;
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                jt_mongo_write_concern_t wc;
                jt_error_t err;
                bool ok;
                jt_error_clear(&err);
                ok = jt_mongo_write_concern_parse(cases[i].w, cases[i].wtimeout, &wc, &err);
                if (ok != !cases[i].message)
                        fail_msg("--write-concern \"%s\" --write-timeout %lld: expected %s, actual "
                                 "%s (%s)",
                                 cases[i].w, cases[i].wtimeout,
                                 cases[i].message ? "refused" : "accepted",
                                 ok ? "accepted" : "refused", err.message);
                if (!ok && (err.domain != JT_ERR_CONFIG || !strstr(err.message, cases[i].message)))
                        fail_msg("expected a config error containing \"%s\", actual \"%s\"",
                                 cases[i].message, err.message);
        }
        {
                jt_mongo_write_concern_t wc;
                jt_error_t err;
                assert_true(jt_mongo_write_concern_parse("3", 2500, &wc, &err));
                assert_int_equal(wc.w, 3);
                assert_int_equal(wc.wtimeout_ms, 2500);
                assert_true(jt_mongo_write_concern_parse("majority", 10000, &wc, &err));
                assert_int_equal(wc.w, MONGOC_WRITE_CONCERN_W_MAJORITY);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(defaults_apply),
            cmocka_unit_test(command_line_overrides),
            cmocka_unit_test(bad_input_is_named),
            cmocka_unit_test(environment_fills_and_secret_not_echoed),
            cmocka_unit_test(kv_pairs_keep_order),
            cmocka_unit_test(kafka_settings_are_validated),
            cmocka_unit_test(mongo_uri_is_redacted),
            cmocka_unit_test(bad_mongo_uri_hides_password),
            cmocka_unit_test(long_ops_pools_outwait_the_default_socket_timeout),
            cmocka_unit_test(write_concern_is_validated),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
