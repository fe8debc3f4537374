/* Writing the benchmark's results (bench_report.h). */
#include "bench_report.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

jt_bench_row_t *jt_bench_report_add(jt_bench_results_t *r, const char *job, const char *variant,
                                    int workers) {
        jt_bench_row_t *row;

        if (r->count >= JT_BENCH_MAX_ROWS)
                return NULL;
        row = &r->rows[r->count++];
        memset(row, 0, sizeof(*row));
        snprintf(row->job, sizeof(row->job), "%s", job);
        snprintf(row->variant, sizeof(row->variant), "%s", variant);
        row->workers = workers;
        row->state_ok = true;
        row->db_requests = row->users_read = -1;
        return row;
}

static const jt_bench_row_t *find(const jt_bench_results_t *r, const char *job, const char *variant,
                                  int workers) {
        for (int i = 0; i < r->count; i++)
                if (strcmp(r->rows[i].job, job) == 0 && strcmp(r->rows[i].variant, variant) == 0 &&
                    (workers < 0 || r->rows[i].workers == workers))
                        return &r->rows[i];
        return NULL;
}

static double rate(const jt_bench_row_t *row) {
        return row->seconds > 0 ? (double)row->documents / row->seconds : 0;
}

/* Per user of the dataset; < 0 when the count is unknown. */
static double per_user(const jt_bench_results_t *r, int64_t n) {
        return n >= 0 && r->users > 0 ? (double)n / r->users : -1;
}

static double ms_per_user(const jt_bench_results_t *r, const jt_bench_row_t *x) {
        return r->users > 0 ? x->seconds * 1000.0 / r->users : 0;
}

/* A CSV cell: empty when unknown, never a made-up zero. */
static void cell_count(FILE *f, int64_t n) {
        if (n >= 0)
                fprintf(f, ",%" PRId64, n);
        else
                fprintf(f, ",");
}

static void cell_ratio(FILE *f, double x) {
        if (x >= 0)
                fprintf(f, ",%.6f", x);
        else
                fprintf(f, ",");
}

static bool write_csv(const jt_bench_results_t *r, const char *dir) {
        char path[1024];
        FILE *f;

        snprintf(path, sizeof(path), "%s/results.csv", dir);
        if (!(f = fopen(path, "w")))
                return false;
        /* Columns are only ever appended: scripts read older files by name. */
        fprintf(f, "job,variant,workers,seconds,documents,documents_per_s,peak_rss_mb,cpu_s,"
                   "state_ok,state,users,playbacks_per_user,history_months,db_requests,"
                   "db_requests_per_user,users_read_per_user,users_per_task,playback_reads\n");
        for (int i = 0; i < r->count; i++) {
                const jt_bench_row_t *x = &r->rows[i];
                fprintf(f, "%s,%s,%d,%.3f,%" PRId64 ",%.1f,%.1f,%.2f,%s,\"%s\",%d,%d,%d", x->job,
                        x->variant, x->workers, x->seconds, x->documents, rate(x), x->peak_rss_mb,
                        x->cpu_s, x->state_ok ? "yes" : "no", x->state, r->users,
                        r->playbacks_per_user, r->history_months);
                cell_count(f, x->db_requests);
                cell_ratio(f, per_user(r, x->db_requests));
                cell_ratio(f, per_user(r, x->users_read));
                fprintf(f, ",%d,%s\n", r->users_per_task, r->playback_reads);
        }
        return fclose(f) == 0;
}

static void ratio(FILE *f, const jt_bench_row_t *x, const jt_bench_row_t *ref) {
        if (ref && ref->seconds > 0 && x->seconds > 0)
                fprintf(f, " %.2f× |", x->seconds / ref->seconds);
        else
                fprintf(f, " - |");
}

static void job_table(FILE *f, const jt_bench_results_t *r, const char *job, const char *unit) {
        const jt_bench_row_t *floor = find(r, job, "floor", -1),
                             *base = find(r, job, "baseline", -1);

        fprintf(f,
                "\n### %s\n\n| run | time (s) | %s/s | ms/user | × floor | × baseline | "
                "peak RSS (MB) | CPU (s) | DB requests | requests/user | users read/user | "
                "final state |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n",
                job, unit);
        for (int i = 0; i < r->count; i++) {
                const jt_bench_row_t *x = &r->rows[i];
                char name[48];
                if (strcmp(x->job, job) != 0)
                        continue;
                if (x->workers)
                        snprintf(name, sizeof(name), "fleet, %d worker%s", x->workers,
                                 x->workers == 1 ? "" : "s");
                else
                        snprintf(name, sizeof(name), "%s", x->variant);
                fprintf(f, "| %s | %.2f | %.0f | %.3f |", name, x->seconds, rate(x),
                        ms_per_user(r, x));
                ratio(f, x, floor);
                /* The original's monthly step did other work (no entries computed): no ratio. */
                ratio(f, x, strcmp(job, "stats") == 0 ? NULL : base);
                if (x->peak_rss_mb > 0)
                        fprintf(f, " %.1f | %.2f |", x->peak_rss_mb, x->cpu_s);
                else
                        fprintf(f, " - | - |");
                if (x->db_requests >= 0)
                        fprintf(f, " %" PRId64 " | %.4f |", x->db_requests,
                                per_user(r, x->db_requests));
                else
                        fprintf(f, " - | - |");
                if (x->users_read >= 0)
                        fprintf(f, " %.3f |", per_user(r, x->users_read));
                else
                        fprintf(f, " - |");
                fprintf(f, " %s |\n", !x->state[0] ? "-" : x->state_ok ? "same" : "**DIFFERENT**");
        }
}

static void target(FILE *f, const char *what, bool measured, bool met, const char *detail) {
        if (!measured) /* the job was not run (--jobs) or a run failed: no figures to give */
                fprintf(f, "- %s: not measured in this run\n", what);
        else
                fprintf(f, "- %s: %s (%s)\n", what, met ? "met" : "**not met**", detail);
}

static void targets(FILE *f, const jt_bench_results_t *r) {
        const jt_bench_row_t *sf = find(r, "stats", "floor", -1),
                             *s1 = find(r, "stats", "fleet", 1), *s2 = find(r, "stats", "fleet", 2),
                             *cf = find(r, "cleanup", "floor", -1),
                             *cb = find(r, "cleanup", "baseline", -1),
                             *gen = find(r, "generate", "generator", -1),
                             *raw = find(r, "insert", "raw", -1);
        const jt_bench_row_t *cbest = NULL;
        double rss = 0, req = -1, users_read = -1;
        bool req_known = true, users_known = true, fleet_stats = false, fleet_any = false;
        char d[160];

        for (int i = 0; i < r->count; i++) {
                const jt_bench_row_t *x = &r->rows[i];
                bool stats = strcmp(x->job, "stats") == 0;
                if (x->workers) {
                        fleet_any = true;
                        req_known = req_known && x->db_requests >= 0;
                        if (per_user(r, x->db_requests) > req)
                                req = per_user(r, x->db_requests);
                }
                if (x->workers && stats) {
                        fleet_stats = true;
                        users_known = users_known && x->users_read >= 0;
                        /* The one furthest from 1 document per user. */
                        if (users_read < 0 ||
                            fabs(per_user(r, x->users_read) - 1) > fabs(users_read - 1))
                                users_read = per_user(r, x->users_read);
                }
                if (strcmp(x->job, "cleanup") == 0 && x->workers &&
                    (!cbest || x->seconds < cbest->seconds))
                        cbest = x;
                if (x->workers && x->peak_rss_mb > rss)
                        rss = x->peak_rss_mb;
        }
        fprintf(f, "\n## Targets (ratios from this run)\n\n");
        snprintf(d, sizeof(d), "%.2f×", s1 && sf ? s1->seconds / sf->seconds : 0);
        target(f, "statistics, 1 worker ≤ 1.1 × the floor", s1 && sf,
               s1 && sf && s1->seconds <= 1.1 * sf->seconds, d);
        snprintf(d, sizeof(d), "%.2f s with 2, %.2f s with 1", s2 ? s2->seconds : 0,
                 s1 ? s1->seconds : 0);
        target(f, "statistics, 2 workers not slower than 1", s1 && s2,
               s1 && s2 && s2->seconds <= s1->seconds * 1.05, d);
        snprintf(d, sizeof(d), "%.2f× faster with %d worker(s)",
                 cbest && cb ? cb->seconds / cbest->seconds : 0, cbest ? cbest->workers : 0);
        target(f, "cleanup ≥ 3 × faster than the baseline", cbest && cb,
               cbest && cb && cb->seconds >= 3 * cbest->seconds, d);
        snprintf(d, sizeof(d), "%.2f×", cbest && cf ? cbest->seconds / cf->seconds : 0);
        target(f, "cleanup ≤ 1.3 × the floor", cbest && cf,
               cbest && cf && cbest->seconds <= 1.3 * cf->seconds, d);
        snprintf(d, sizeof(d), "%.4f at most, over every fleet run", req);
        target(f, "database requests per user ≤ 0.05", fleet_any && req_known,
               fleet_any && req_known && req <= 0.05, d);
        snprintf(d, sizeof(d), "%.3f users documents read per user, the furthest from 1",
                 users_read);
        target(f, "statistics: users documents read per job = users", fleet_stats && users_known,
               fleet_stats && users_known && fabs(users_read - 1) < 1e-9, d);
        snprintf(d, sizeof(d), "%.1f MB%s", rss, r->history_months ? ", with stored history" : "");
        target(f, "worker peak RSS ≤ 64 MB", rss > 0, rss > 0 && rss <= 64, d);
        snprintf(d, sizeof(d), "generator %.0f playbacks/s, raw bulk insert %.0f/s: %.2f×",
                 gen ? rate(gen) : 0, raw ? rate(raw) : 0,
                 gen && raw && rate(gen) > 0 ? rate(raw) / rate(gen) : 0);
        target(f, "generator within 1.5 × of a raw bulk-insert floor", gen && raw,
               gen && raw && rate(raw) <= 1.5 * rate(gen), d);
}

static bool write_md(const jt_bench_results_t *r, const char *dir, bool states_ok) {
        char path[1024], host[128] = "?";
        FILE *f;
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        long mem_mb = sysconf(_SC_PHYS_PAGES) / 1024 * (sysconf(_SC_PAGESIZE) / 1024);

        snprintf(path, sizeof(path), "%s/report.md", dir);
        if (!(f = fopen(path, "w")))
                return false;
        gethostname(host, sizeof(host) - 1);
        fprintf(f,
                "# Joytify fleet benchmark\n\n%d users × %d playbacks (%" PRId64
                " playbacks), %d months of stored statistics per user, statistics for %s, "
                "cleanup cutoff %s; %s, %ld cores, %ld MB; MongoDB-compatible server: %s. "
                "Statistics tasks of %d users, playbacks read %s.",
                r->users, r->playbacks_per_user, (int64_t)r->users * r->playbacks_per_user,
                r->history_months, r->month, r->cutoff, host, cores, mem_mb, r->mongo_server,
                r->users_per_task,
                strcmp(r->playback_reads, "range") == 0 ? "by one cursor per range of users"
                                                        : "by one query per user");
        if (r->task_budget_s > 0)
                fprintf(f, " Task budget %d s (the producer's --task-budget).", r->task_budget_s);
        if (r->reused)
                fprintf(f, " The dataset was kept from an earlier bench's generation "
                           "(--reuse-data: same values, users and playbacks counted), so there "
                           "is no generation row.");
        fprintf(f, "\n\n");
        fprintf(f,
                "Every run started from the same generated data (same seed; between runs the "
                "statistics' writes are removed and the playbacks a cleanup deleted are put back, "
                "same documents and ids). Final state check: %s.\n",
                states_ok ? "every run of a job left the same state (entries, notifications, "
                            "playbacks), so the times compare the same work"
                          : "**some runs left a different state: their times do not compare** "
                            "(see the rows marked DIFFERENT and results.csv)");
        job_table(f, r, "stats", "playbacks");
        job_table(f, r, "cleanup", "deleted");
        job_table(f, r, "generate", "inserted");
        job_table(f, r, "insert", "inserted");
        targets(f, r);
        fprintf(
            f,
            "\nPlots: time_by_workers.png (with the floor, the baseline and ideal linear scaling), "
            "throughput.png, rss.png, cost_per_user.png (cost-per-user.dat; concatenate "
            "those of runs at other user counts and run cost_per_user.gp to draw them "
            "together). Raw rows: results.csv. "
            "Statistics floor: one cursor over the month's playbacks with the fields an "
            "entry needs; cleanup floor: one deleteMany of everything older than the "
            "cutoff; baseline: the original single-process algorithms "
            "(joytify-loadtest baseline); its statistics row is the original monthly "
            "function's only step (users with an entry, one notification, pushed to the "
            "opted-in users: the app kept entries up to date, nothing recomputed them), so it "
            "gets no ratio.\n");
        return fclose(f) == 0;
}

/* DIR/name: the fleet's rows of one job (workers seconds rss rate); *rows how many. */
static bool write_fleet_dat(const jt_bench_results_t *r, const char *dir, const char *job,
                            int *rows) {
        char path[1024];
        FILE *f;

        snprintf(path, sizeof(path), "%s/fleet-%s.dat", dir, job);
        if (!(f = fopen(path, "w")))
                return false;
        fprintf(f, "# %s fleet: workers seconds peak_rss_mb rate\n", job);
        *rows = 0;
        for (int i = 0; i < r->count; i++) {
                const jt_bench_row_t *x = &r->rows[i];
                if (x->workers && x->seconds > 0 && strcmp(x->job, job) == 0) {
                        fprintf(f, "%d %.3f %.1f %.1f\n", x->workers, x->seconds, x->peak_rss_mb,
                                rate(x));
                        ++*rows;
                }
        }
        return fclose(f) == 0;
}

/* One job's line in time_by_workers.png with its reference lines: the floor, the baseline and
 * ideal linear scaling from the fewest workers measured (t(1)/N when that is 1). */
static void time_lines(FILE *f, const jt_bench_results_t *r, const char *job, const char *title,
                       int color, bool *first) {
        const jt_bench_row_t *floor = find(r, job, "floor", -1),
                             *base = find(r, job, "baseline", -1), *least = NULL;
        char ideal[48];

        for (int i = 0; i < r->count; i++) {
                const jt_bench_row_t *x = &r->rows[i];
                if (x->workers && x->seconds > 0 && strcmp(x->job, job) == 0 &&
                    (!least || x->workers < least->workers))
                        least = x;
        }
        if (!least)
                return;
        if (least->workers == 1)
                snprintf(ideal, sizeof(ideal), "t(1)/N");
        else
                snprintf(ideal, sizeof(ideal), "t(%d) x %d/N", least->workers, least->workers);
        fprintf(f,
                "%s'fleet-%s.dat' using 1:2 with linespoints lc %d pt 7 lw 2 title '%s', \\\n"
                "  %.3f * %d / x with lines lc %d dt 2 title '%s, ideal %s'",
                *first ? "plot " : ", \\\n  ", job, color, title, least->seconds, least->workers,
                color, title, ideal);
        if (floor && floor->seconds > 0)
                fprintf(f, ", \\\n  %.3f with lines lc %d dt 3 title '%s floor'", floor->seconds,
                        color, title);
        /* The statistics baseline is the original's notification step (no entries computed):
         * a reference, not the same work. */
        if (base && base->seconds > 0)
                fprintf(f, ", \\\n  %.3f with lines lc %d dt 4 title '%s baseline%s'",
                        base->seconds, color, title,
                        strcmp(job, "stats") == 0 ? " (the original step)" : "");
        *first = false;
}

/* DIR/cost-per-user.dat: every fleet row as `job workers users ms_per_user requests_per_user`
 * ("-" when unknown). The files of runs at other user counts can be concatenated into one and
 * cost_per_user.gp run on it (loadtest/SCALING.md). */
static bool write_cost_dat(const jt_bench_results_t *r, const char *dir) {
        char path[1024];
        FILE *f;

        snprintf(path, sizeof(path), "%s/cost-per-user.dat", dir);
        if (!(f = fopen(path, "w")))
                return false;
        fprintf(f, "# job workers users ms_per_user db_requests_per_user\n");
        for (int i = 0; i < r->count; i++) {
                const jt_bench_row_t *x = &r->rows[i];
                if (!x->workers || x->seconds <= 0)
                        continue;
                fprintf(f, "%s %d %d %.4f ", x->job, x->workers, r->users, ms_per_user(r, x));
                if (x->db_requests >= 0)
                        fprintf(f, "%.6f\n", per_user(r, x->db_requests));
                else
                        fprintf(f, "-\n");
        }
        return fclose(f) == 0;
}

/* DIR/cost_per_user.gp: ms per user (left axis) and database requests per user (right axis),
 * both from zero, against users, one line per job and worker count of this run. */
static bool write_cost_plot(const jt_bench_results_t *r, const char *dir) {
        char path[1024];
        FILE *f;
        bool first = true, any_requests = false;

        if (!write_cost_dat(r, dir))
                return false;
        snprintf(path, sizeof(path), "%s/cost_per_user.gp", dir);
        if (!(f = fopen(path, "w")))
                return false;
        for (int i = 0; i < r->count; i++)
                any_requests = any_requests || (r->rows[i].workers && r->rows[i].db_requests >= 0);
        fprintf(f, "set terminal pngcairo size 900,600\nset grid\nset key below\n"
                   "set datafile missing '-'\nset output 'cost_per_user.png'\n"
                   "set title 'Fleet cost per user by users'\nset xlabel 'users'\n"
                   "set logscale x\nset xtics auto\nset ylabel 'ms per user'\nset yrange [0:*]\n");
        /* The requests' axis only when the workers counted them (an empty axis warns). */
        if (any_requests)
                fprintf(f, "set y2label 'database requests per user'\nset y2range [0:*]\n"
                           "set ytics nomirror\nset y2tics\n");
        for (int i = 0; i < r->count; i++) {
                const jt_bench_row_t *x = &r->rows[i];
                bool seen = false, requests = false;
                if (!x->workers || x->seconds <= 0)
                        continue;
                for (int j = 0; j < r->count; j++) {
                        const jt_bench_row_t *y = &r->rows[j];
                        bool same = strcmp(y->job, x->job) == 0 && y->workers == x->workers;
                        seen = seen || (same && j < i);
                        requests = requests || (same && y->db_requests >= 0);
                }
                if (seen)
                        continue;
                fprintf(f,
                        "%s'cost-per-user.dat' using ((strcol(1) eq '%s' && $2 == %d) ? $3 : "
                        "1/0):4 smooth unique with linespoints lw 2 pt 7 title '%s, %d worker%s: "
                        "ms/user'",
                        first ? "plot " : ", \\\n  ", x->job, x->workers, x->job, x->workers,
                        x->workers == 1 ? "" : "s");
                if (requests)
                        fprintf(f,
                                ", \\\n  'cost-per-user.dat' using ((strcol(1) eq '%s' && $2 == "
                                "%d) ? $3 : 1/0):5 smooth unique axes x1y2 with linespoints dt 2 "
                                "pt 6 title '%s, %d worker%s: requests/user'",
                                x->job, x->workers, x->job, x->workers, x->workers == 1 ? "" : "s");
                first = false;
        }
        fprintf(f, "\n");
        return fclose(f) == 0 && !first;
}

/* Plots of what was measured: a job not run (--jobs) or a failed run has no line, so gnuplot
 * never gets an empty series. Every value axis starts at zero, so that a 5 % difference looks
 * like one. */
static bool write_plots(const jt_bench_results_t *r, const char *dir) {
        char path[1024], cmd[1200];
        int stats_rows = 0, cleanup_rows = 0, max_workers = 1;
        bool first = true, cost;
        FILE *f;

        if (!write_fleet_dat(r, dir, "stats", &stats_rows) ||
            !write_fleet_dat(r, dir, "cleanup", &cleanup_rows))
                return false;
        snprintf(path, sizeof(path), "%s/runs.dat", dir);
        if (!(f = fopen(path, "w")))
                return false;
        fprintf(f, "# every run: label seconds rate peak_rss_mb\n");
        for (int i = 0; i < r->count; i++) {
                const jt_bench_row_t *x = &r->rows[i];
                if (x->workers > max_workers)
                        max_workers = x->workers;
                if (x->workers)
                        fprintf(f, "\"%s-%dw\" %.3f %.1f %.1f\n", x->job, x->workers, x->seconds,
                                rate(x), x->peak_rss_mb);
                else
                        fprintf(f, "\"%s-%s\" %.3f %.1f %.1f\n", x->job, x->variant, x->seconds,
                                rate(x), x->peak_rss_mb);
        }
        fclose(f);
        cost = write_cost_plot(r, dir);
        snprintf(path, sizeof(path), "%s/plots.gp", dir);
        if (!(f = fopen(path, "w")))
                return false;
        fprintf(f, "set terminal pngcairo size 900,540\nset grid\nset key outside\n");
        if (stats_rows || cleanup_rows) {
                fprintf(f,
                        "set output 'time_by_workers.png'\nset title 'Fleet time by workers'\n"
                        "set key below\nset xlabel 'workers'\nset ylabel 'seconds'\nset xtics 1\n"
                        "set xrange [%.1f:%.1f]\nset yrange [0:*]\n",
                        max_workers == 1 ? 0.5 : 0.8, max_workers + (max_workers == 1 ? 0.5 : 0.2));
                time_lines(f, r, "stats", "statistics", 1, &first);
                time_lines(f, r, "cleanup", "cleanup", 2, &first);
                fprintf(f, "\nset autoscale x\n");
        }
        fprintf(f, "set output 'throughput.png'\nset title 'Documents per second by run'\n"
                   "set style data histograms\nset style fill solid 0.6\nset boxwidth 0.8\n"
                   "set xtics rotate by -35\nset xlabel ''\nset ylabel 'documents/s'\n"
                   "set yrange [0:*]\nunset key\n"
                   "plot 'runs.dat' using 3:xtic(1)\n"
                   "set output 'rss.png'\nset title 'Peak RSS by run (largest process)'\n"
                   "set ylabel 'MB'\nset yrange [0:*]\nplot 'runs.dat' using 4:xtic(1)\n");
        fclose(f);
        snprintf(cmd, sizeof(cmd), "cd '%s' && gnuplot plots.gp%s", dir,
                 cost ? " && gnuplot cost_per_user.gp" : "");
        if (system(cmd) != 0) {
                fprintf(stderr, "joytify-loadtest bench: gnuplot failed (Debian package "
                                "gnuplot-nox; deploy/local/install-deps installs it)\n");
                return false;
        }
        return true;
}

bool jt_bench_report_write_rows(const jt_bench_results_t *r, const char *dir, bool states_ok) {
        if (!write_csv(r, dir) || !write_md(r, dir, states_ok)) {
                fprintf(stderr, "joytify-loadtest bench: cannot write into %s\n", dir);
                return false;
        }
        return true;
}

bool jt_bench_report_write(const jt_bench_results_t *r, const char *dir, bool states_ok) {
        return jt_bench_report_write_rows(r, dir, states_ok) && write_plots(r, dir);
}
