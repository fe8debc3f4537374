/* The stop request of a long-running program: SIGTERM and SIGINT set one flag that loops,
 * tasks and waits read at their checkpoints. One flag per process. */
#ifndef JT_SIGNAL_H
#define JT_SIGNAL_H

#include <signal.h>
#include <stdbool.h>

/* Installs the handler for SIGTERM and SIGINT (without SA_RESTART, so that a blocking call
 * returns early with EINTR). Call once, before the program starts waiting on anything. */
void jt_signal_install_stop(void);

/* True once SIGTERM or SIGINT has arrived (or jt_signal_request_stop was called). */
bool jt_signal_stop_requested(void);

/* Asks for a stop as a signal would: for tests, and for a program that decides to end. */
void jt_signal_request_stop(void);

/* The flag itself, for code that is handed a pointer to poll (a task's checkpoints). */
volatile sig_atomic_t *jt_signal_stop_flag(void);

#endif
