/* Timers: one kernel thread runs every module's timer callbacks.
 *
 * A timer belongs to an owner (the module that started it). A one-shot
 * timer stays allocated after it fired, so that timer_cancel on it is
 * always safe; timers_drop_owner frees what a module left behind. */
#ifndef KERYU_KERNEL_TIMER_H
#define KERYU_KERNEL_TIMER_H

#include <stddef.h>
#include <stdint.h>

#include <keryu/module.h>

struct timers;

/* Starts the timer thread. Returns NULL on failure. */
struct timers *timers_new(void);
/* Cancels every timer left, joins the thread and frees everything. */
void timers_free(struct timers *ts);

/* Runs fn(arg) after delay_ms, then every period_ms if period_ms > 0.
 * Returns NULL on allocation failure. */
keryu_timer *timers_start(struct timers *ts, const void *owner,
			  uint64_t delay_ms, uint64_t period_ms,
			  keryu_timer_fn fn, void *arg);
/* Stops and frees t; waits for its callback if it is running right now.
 * Called from t's own callback, it only marks t and the timer thread frees
 * it after the callback returns. */
void timers_cancel(struct timers *ts, keryu_timer *t);
/* Cancels and frees every timer of owner. Returns how many were still
 * armed (a module that forgot to cancel them). */
size_t timers_drop_owner(struct timers *ts, const void *owner);

#endif
