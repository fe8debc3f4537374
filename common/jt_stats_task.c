/* The stats task (schemas/stats_task.vN.avsc): its fields, kind symbols and invariants. */
#include "jt_avro_messages.h"

#include <strings.h>

/* In the order of the C enum, which is the schema's order. */
static const char *const stats_kind_symbols[] = {"SHARD", "FINALIZE", "RANGE"};

static const jt_avro_field_t stats_task_fields[] = {
    FIELD(jt_stats_task_t, job_id, F_STRING),
    FIELD(jt_stats_task_t, task_id, F_STRING),
    ENUM(jt_stats_task_t, kind, stats_kind_symbols),
    FIELD(jt_stats_task_t, shard, F_INT),
    FIELD(jt_stats_task_t, shard_count, F_INT),
    FIELD(jt_stats_task_t, month, F_STRING),
    FIELD(jt_stats_task_t, test_mode, F_BOOL),
    FIELD(jt_stats_task_t, run_id, F_OPT_STRING),
    FIELD(jt_stats_task_t, run_nonce, F_OPT_STRING),
    FIELD(jt_stats_task_t, user_from, F_OPT_STRING),
    FIELD(jt_stats_task_t, user_to, F_OPT_STRING),
    FIELD(jt_stats_task_t, parent_task_id, F_OPT_STRING),
    FIELD(jt_stats_task_t, continuation_seq, F_INT),
    FIELD(jt_stats_task_t, resume_after_user, F_OPT_STRING),
    FIELD(jt_stats_task_t, users_so_far, F_LONG),
    FIELD(jt_stats_task_t, with_entry_so_far, F_LONG),
    FIELD(jt_stats_task_t, bad_rows_so_far, F_LONG),
    FIELD(jt_stats_task_t, notified_so_far, F_LONG),
    FIELD(jt_stats_task_t, time_budget_s, F_INT),
    NAMED(jt_stats_task_t, created_at_ms, "created_at", F_LONG),
};

/* The table holds validations of any message type. */
static bool validate(const void *msg, jt_error_t *err) {
        return jt_stats_task_validate(msg, err);
}

static const jt_avro_message_t stats_task_msg =
    MESSAGE(JT_AVRO_STATS_TASK, stats_task_fields, jt_stats_task_t, "stats task", validate);

const char *jt_stats_task_kind_name(jt_stats_task_kind_t kind) {
        const char *s =
            jt_avro_messages_symbol(stats_kind_symbols, NSYM(stats_kind_symbols), (int)kind);
        return s ? s : "unknown";
}

bool jt_stats_task_validate(const jt_stats_task_t *t, jt_error_t *err) {
        if (!jt_avro_messages_nonempty(t->job_id, "job_id", err) ||
            !jt_avro_messages_nonempty(t->task_id, "task_id", err))
                return false;
        if (!jt_avro_messages_valid_month(t->month))
                return jt_error_set(err, JT_ERR_INPUT, 0, "month must be YYYY-MM (got '%s')",
                                    t->month ? t->month : "(null)");
        if (t->shard_count < 1)
                return jt_error_set(err, JT_ERR_INPUT, 0, "shard_count must be >= 1 (got %d)",
                                    t->shard_count);
        if (t->kind != JT_STATS_TASK_FINALIZE && (t->shard < 0 || t->shard >= t->shard_count))
                return jt_error_set(err, JT_ERR_INPUT, 0,
                                    "shard must be 0..%d for a %s task (got %d)",
                                    t->shard_count - 1, jt_stats_task_kind_name(t->kind), t->shard);
        if (t->kind == JT_STATS_TASK_FINALIZE && t->shard != -1)
                return jt_error_set(err, JT_ERR_INPUT, 0,
                                    "shard must be -1 for the FINALIZE task (got %d)", t->shard);
        if (t->kind != JT_STATS_TASK_SHARD && t->kind != JT_STATS_TASK_FINALIZE &&
            t->kind != JT_STATS_TASK_RANGE)
                return jt_error_set(err, JT_ERR_INPUT, 0, "kind %d is unknown", (int)t->kind);
        if ((t->user_from && !jt_avro_messages_valid_object_id(t->user_from)) ||
            (t->user_to && !jt_avro_messages_valid_object_id(t->user_to)) ||
            (t->resume_after_user && !jt_avro_messages_valid_object_id(t->resume_after_user)))
                return jt_error_set(err, JT_ERR_INPUT, 0,
                                    "user_from, user_to and resume_after_user must be 24 hex "
                                    "digits (an ObjectId) or null");
        if (t->user_from && t->user_to && strcasecmp(t->user_from, t->user_to) >= 0)
                return jt_error_set(err, JT_ERR_INPUT, 0,
                                    "the user range [%s, %s) is empty or inverted", t->user_from,
                                    t->user_to);
        if (t->continuation_seq < 0 || t->time_budget_s < 0 || t->users_so_far < 0 ||
            t->with_entry_so_far < 0 || t->bad_rows_so_far < 0 || t->notified_so_far < 0)
                return jt_error_set(err, JT_ERR_INPUT, 0,
                                    "continuation_seq, time_budget_s and the figures so far must "
                                    "not be negative");
        if ((t->continuation_seq > 0) != (t->parent_task_id != NULL))
                return jt_error_set(err, JT_ERR_INPUT, 0,
                                    "a continuation has both parent_task_id and continuation_seq "
                                    "> 0, a first task neither");
        return true;
}

bool jt_stats_task_encode(const jt_avro_registry_t *reg, const jt_stats_task_t *task, void **buf,
                          size_t *len, jt_error_t *err) {
        return jt_avro_messages_encode(&stats_task_msg, reg, task, buf, len, err);
}

bool jt_stats_task_decode(const jt_avro_registry_t *reg, const void *buf, size_t len,
                          jt_stats_task_t *task, jt_error_t *err) {
        return jt_avro_messages_decode(&stats_task_msg, reg, buf, len, task, err);
}

void jt_stats_task_clear(jt_stats_task_t *task) {
        jt_avro_messages_clear(&stats_task_msg, task);
}
