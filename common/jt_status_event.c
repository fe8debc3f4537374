/* The status event (schemas/status_event.vN.avsc): its fields, type and job-kind symbols,
 * and invariants. */
#include "jt_avro_messages.h"

#include <inttypes.h>
#include <math.h>

/* In the order of the C enums, which is the schema's order. */
static const char *const status_type_symbols[] = {"JOB_STARTED",   "TASK_STARTED", "TASK_PROGRESS",
                                                  "TASK_FINISHED", "TASK_FAILED",  "JOB_FINISHED",
                                                  "JOB_FAILED"};
static const char *const job_kind_symbols[] = {"STATS", "CLEANUP"};

static const jt_avro_field_t status_event_fields[] = {
    FIELD(jt_status_event_t, job_id, F_STRING),
    FIELD(jt_status_event_t, task_id, F_OPT_STRING),
    ENUM(jt_status_event_t, type, status_type_symbols),
    ENUM(jt_status_event_t, job_kind, job_kind_symbols),
    NAMED(jt_status_event_t, timestamp_ms, "timestamp", F_LONG),
    FIELD(jt_status_event_t, worker_id, F_OPT_STRING),
    FIELD(jt_status_event_t, test_mode, F_BOOL),
    FIELD(jt_status_event_t, tasks_total, F_OPT_LONG),
    FIELD(jt_status_event_t, tasks_done, F_OPT_LONG),
    FIELD(jt_status_event_t, users_processed, F_OPT_LONG),
    FIELD(jt_status_event_t, users_updated, F_OPT_LONG),
    FIELD(jt_status_event_t, notifications_created, F_OPT_LONG),
    FIELD(jt_status_event_t, notification_id, F_OPT_STRING),
    FIELD(jt_status_event_t, month, F_OPT_STRING),
    FIELD(jt_status_event_t, records_deleted, F_OPT_LONG),
    FIELD(jt_status_event_t, total_records_found, F_OPT_LONG),
    FIELD(jt_status_event_t, remaining_records, F_OPT_LONG),
    FIELD(jt_status_event_t, completion_percentage, F_OPT_DOUBLE),
    FIELD(jt_status_event_t, was_timeout_stopped, F_OPT_BOOL),
    FIELD(jt_status_event_t, processing_mode, F_OPT_STRING),
    FIELD(jt_status_event_t, batch_size, F_OPT_LONG),
    NAMED(jt_status_event_t, cutoff_date_ms, "cutoff_date", F_OPT_LONG),
    FIELD(jt_status_event_t, triggered_by, F_OPT_STRING),
    FIELD(jt_status_event_t, cleanup_triggered, F_OPT_BOOL),
    FIELD(jt_status_event_t, execution_ms, F_OPT_LONG),
    FIELD(jt_status_event_t, progress_done, F_OPT_LONG),
    FIELD(jt_status_event_t, progress_total, F_OPT_LONG),
    FIELD(jt_status_event_t, error_message, F_OPT_STRING),
    FIELD(jt_status_event_t, error_stack, F_OPT_STRING),
    ADDED(jt_status_event_t, users_pushed, "users_pushed", F_OPT_LONG, 0),
    ADDED(jt_status_event_t, push_failures, "push_failures", F_OPT_LONG, 0),
};

/* The table holds validations of any message type. */
static bool validate(const void *msg, jt_error_t *err) {
        return jt_status_event_validate(msg, err);
}

static const jt_avro_message_t status_event_msg =
    MESSAGE(JT_AVRO_STATUS_EVENT, status_event_fields, jt_status_event_t, "status event", validate);

const char *jt_status_event_type_name(jt_status_type_t type) {
        const char *s =
            jt_avro_messages_symbol(status_type_symbols, NSYM(status_type_symbols), (int)type);
        return s ? s : "unknown";
}

const char *jt_status_event_job_kind_name(jt_job_kind_t kind) {
        const char *s =
            jt_avro_messages_symbol(job_kind_symbols, NSYM(job_kind_symbols), (int)kind);
        return s ? s : "unknown";
}

bool jt_status_event_validate(const jt_status_event_t *e, jt_error_t *err) {
        const struct {
                const char *name;
                const jt_opt_long_t *v;
        } counts[] = {{"tasks_total", &e->tasks_total},
                      {"tasks_done", &e->tasks_done},
                      {"users_processed", &e->users_processed},
                      {"users_updated", &e->users_updated},
                      {"notifications_created", &e->notifications_created},
                      {"records_deleted", &e->records_deleted},
                      {"total_records_found", &e->total_records_found},
                      {"remaining_records", &e->remaining_records},
                      {"batch_size", &e->batch_size},
                      {"execution_ms", &e->execution_ms},
                      {"progress_done", &e->progress_done},
                      {"progress_total", &e->progress_total},
                      {"users_pushed", &e->users_pushed},
                      {"push_failures", &e->push_failures}};
        size_t i;

        if (!jt_avro_messages_nonempty(e->job_id, "job_id", err) ||
            !jt_avro_messages_id_bounded(e->job_id, "job_id", err) ||
            !jt_avro_messages_id_bounded(e->task_id, "task_id", err) ||
            !jt_avro_messages_id_bounded(e->worker_id, "worker_id", err))
                return false;
        if (!jt_avro_messages_symbol(status_type_symbols, NSYM(status_type_symbols),
                                     (int)e->type) ||
            !jt_avro_messages_symbol(job_kind_symbols, NSYM(job_kind_symbols), (int)e->job_kind))
                return jt_error_set(err, JT_ERR_INPUT, 0, "unknown event type %d or job kind %d",
                                    (int)e->type, (int)e->job_kind);
        if (e->type >= JT_STATUS_TASK_STARTED && e->type <= JT_STATUS_TASK_FAILED && !e->task_id)
                return jt_error_set(err, JT_ERR_INPUT, 0, "a %s event needs a task_id",
                                    jt_status_event_type_name(e->type));
        /* The event's time is subtracted from the clock and from other events' times: a year
         * outside 1970..9999 is no event of ours, and would overflow that arithmetic. (The
         * cutoff is only shown, and any value shows.) */
        if (e->timestamp_ms < 0 || e->timestamp_ms > JT_STATUS_TIME_MAX_MS)
                return jt_error_set(err, JT_ERR_INPUT, 0,
                                    "timestamp must be 0..%" PRId64
                                    " ms (1970 to 9999, got %" PRId64 ")",
                                    (int64_t)JT_STATUS_TIME_MAX_MS, e->timestamp_ms);
        /* Counts may be as large as int64 goes: readers saturate their sums (jt_sat.h). */
        for (i = 0; i < sizeof(counts) / sizeof(counts[0]); i++)
                if (counts[i].v->set && counts[i].v->value < 0)
                        return jt_error_set(err, JT_ERR_INPUT, 0,
                                            "%s must be >= 0 (got %" PRId64 ")", counts[i].name,
                                            counts[i].v->value);
        if (e->completion_percentage.set &&
            (!isfinite(e->completion_percentage.value) || e->completion_percentage.value < 0))
                return jt_error_set(err, JT_ERR_INPUT, 0,
                                    "completion_percentage must be a finite number >= 0");
        return true;
}

bool jt_status_event_encode(const jt_avro_registry_t *reg, const jt_status_event_t *event,
                            void **buf, size_t *len, jt_error_t *err) {
        return jt_avro_messages_encode(&status_event_msg, reg, event, buf, len, err);
}

bool jt_status_event_decode(const jt_avro_registry_t *reg, const void *buf, size_t len,
                            jt_status_event_t *event, jt_error_t *err) {
        return jt_avro_messages_decode(&status_event_msg, reg, buf, len, event, err);
}

void jt_status_event_clear(jt_status_event_t *event) {
        jt_avro_messages_clear(&status_event_msg, event);
}
