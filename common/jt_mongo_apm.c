/* Command monitoring on a client pool (jt_mongo_apm.h). The callback runs in the thread that
 * sends the command, once per command (a retried write is two), and only adds to an atomic. */
#include "jt_mongo_apm.h"

static void command_started(const mongoc_apm_command_started_t *event) {
        jt_metrics_db_request(mongoc_apm_command_started_get_context(event),
                              mongoc_apm_command_started_get_command_name(event));
}

bool jt_mongo_apm_count(mongoc_client_pool_t *pool, jt_metrics_t *metrics, jt_error_t *err) {
        mongoc_apm_callbacks_t *callbacks = mongoc_apm_callbacks_new();
        bool ok;

        mongoc_apm_set_command_started_cb(callbacks, command_started);
        ok = mongoc_client_pool_set_apm_callbacks(pool, callbacks, metrics);
        mongoc_apm_callbacks_destroy(callbacks);
        if (!ok)
                return jt_error_set(err, JT_ERR_MONGO, 0,
                                    "cannot count database requests: libmongoc takes command "
                                    "monitoring only before a pool's first client is used");
        return true;
}
