/* The cleanup task (schemas/cleanup_task.vN.avsc): its fields and invariants. */
#include "jt_avro_messages.h"

#include <inttypes.h>

static const jt_avro_field_t cleanup_task_fields[] = {
    FIELD(jt_cleanup_task_t, job_id, F_STRING),
    FIELD(jt_cleanup_task_t, task_id, F_STRING),
    NAMED(jt_cleanup_task_t, range_start_ms, "range_start", F_LONG),
    NAMED(jt_cleanup_task_t, range_end_ms, "range_end", F_LONG),
    NAMED(jt_cleanup_task_t, cutoff_ms, "cutoff", F_LONG),
    FIELD(jt_cleanup_task_t, retention_days, F_INT),
    FIELD(jt_cleanup_task_t, batch_size, F_INT),
    FIELD(jt_cleanup_task_t, batch_delay_ms, F_INT),
    FIELD(jt_cleanup_task_t, time_budget_s, F_INT),
    FIELD(jt_cleanup_task_t, test_mode, F_BOOL),
    FIELD(jt_cleanup_task_t, triggered_by, F_STRING),
    FIELD(jt_cleanup_task_t, parent_task_id, F_OPT_STRING),
    FIELD(jt_cleanup_task_t, continuation_seq, F_INT),
    FIELD(jt_cleanup_task_t, resume_after_id, F_OPT_STRING),
    FIELD(jt_cleanup_task_t, deleted_so_far, F_LONG),
    FIELD(jt_cleanup_task_t, run_nonce, F_OPT_STRING),
    NAMED(jt_cleanup_task_t, created_at_ms, "created_at", F_LONG),
    ADDED(jt_cleanup_task_t, resume_from_ms, "resume_from", F_OPT_LONG, 0),
    ADDED(jt_cleanup_task_t, found, "found", F_LONG, -1),
};

/* The table holds validations of any message type. */
static bool validate(const void *msg, jt_error_t *err) {
        return jt_cleanup_task_validate(msg, err);
}

static const jt_avro_message_t cleanup_task_msg =
    MESSAGE(JT_AVRO_CLEANUP_TASK, cleanup_task_fields, jt_cleanup_task_t, "cleanup task", validate);

bool jt_cleanup_task_validate(const jt_cleanup_task_t *t, jt_error_t *err) {
        if (!jt_avro_messages_nonempty(t->job_id, "job_id", err) ||
            !jt_avro_messages_nonempty(t->task_id, "task_id", err) ||
            !jt_avro_messages_nonempty(t->triggered_by, "triggered_by", err))
                return false;
        if (t->range_start_ms >= t->range_end_ms)
                return jt_error_set(err, JT_ERR_INPUT, 0,
                                    "range_start must be before range_end (got %" PRId64
                                    " >= %" PRId64 ")",
                                    t->range_start_ms, t->range_end_ms);
        if (t->range_end_ms > t->cutoff_ms)
                return jt_error_set(err, JT_ERR_INPUT, 0,
                                    "range_end must not pass the cutoff (got %" PRId64 " > %" PRId64
                                    ")",
                                    t->range_end_ms, t->cutoff_ms);
        if (t->retention_days < 1)
                return jt_error_set(err, JT_ERR_INPUT, 0, "retention_days must be >= 1 (got %d)",
                                    t->retention_days);
        if (t->batch_size < 1)
                return jt_error_set(err, JT_ERR_INPUT, 0, "batch_size must be >= 1 (got %d)",
                                    t->batch_size);
        if (t->batch_delay_ms < 0)
                return jt_error_set(err, JT_ERR_INPUT, 0, "batch_delay_ms must be >= 0 (got %d)",
                                    t->batch_delay_ms);
        if (t->time_budget_s < 1)
                return jt_error_set(err, JT_ERR_INPUT, 0, "time_budget_s must be >= 1 (got %d)",
                                    t->time_budget_s);
        if (t->continuation_seq < 0 || t->deleted_so_far < 0)
                return jt_error_set(err, JT_ERR_INPUT, 0,
                                    "continuation_seq and deleted_so_far must be >= 0 (got %d, "
                                    "%" PRId64 ")",
                                    t->continuation_seq, t->deleted_so_far);
        if ((t->continuation_seq > 0) != (t->parent_task_id != NULL))
                return jt_error_set(err, JT_ERR_INPUT, 0,
                                    "a continuation (continuation_seq %d) has a parent_task_id, "
                                    "a first task has none",
                                    t->continuation_seq);
        if (t->found < -1)
                return jt_error_set(err, JT_ERR_INPUT, 0,
                                    "found must be -1 (unknown) or a count >= 0 (got %" PRId64 ")",
                                    t->found);
        if (t->resume_from_ms.set && (t->resume_from_ms.value < t->range_start_ms ||
                                      t->resume_from_ms.value > t->range_end_ms))
                return jt_error_set(err, JT_ERR_INPUT, 0,
                                    "resume_from must lie in the range [%" PRId64 ", %" PRId64
                                    "] (got %" PRId64 ")",
                                    t->range_start_ms, t->range_end_ms, t->resume_from_ms.value);
        if (t->resume_after_id && !jt_avro_messages_valid_object_id(t->resume_after_id))
                return jt_error_set(err, JT_ERR_INPUT, 0,
                                    "resume_after_id must be a 24-digit hex ObjectId (got '%s')",
                                    t->resume_after_id);
        return true;
}

bool jt_cleanup_task_encode(const jt_avro_registry_t *reg, const jt_cleanup_task_t *task,
                            void **buf, size_t *len, jt_error_t *err) {
        return jt_avro_messages_encode(&cleanup_task_msg, reg, task, buf, len, err);
}

bool jt_cleanup_task_decode(const jt_avro_registry_t *reg, const void *buf, size_t len,
                            jt_cleanup_task_t *task, jt_error_t *err) {
        return jt_avro_messages_decode(&cleanup_task_msg, reg, buf, len, task, err);
}

void jt_cleanup_task_clear(jt_cleanup_task_t *task) {
        jt_avro_messages_clear(&cleanup_task_msg, task);
}
