/*
 * rp_lead.c - a leading engine's progress for the engine that follows it
 * (rp_replay.h): how many requests it has replayed and each model's peak
 * and worst request so far, under a mutex; the follower waits on a
 * condition until the lead is far enough ahead or done.
 *
 * Invariants: requests only grows; peak[i] and worst[i] are the leading
 * engine's after `requests` requests (or its final ones once done); the
 * lead publishes every LEAD_EVERY requests, so a follower wakes that often
 * at most.
 */
#include "rp_internal.h"

#include <pthread.h>
#include <stdlib.h>

struct rp_lead {
	pthread_mutex_t mu;
	pthread_cond_t moved;
	uint64_t lag_min;
	uint64_t requests;
	bool done, stop;
	int n;
	uint64_t peak[MAX_MODELS], worst[MAX_MODELS];
};

rp_lead *rp_lead_create(uint64_t lag_min)
{
	rp_lead *l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	if (pthread_mutex_init(&l->mu, NULL)) {
		free(l);
		return NULL;
	}
	if (pthread_cond_init(&l->moved, NULL)) {
		pthread_mutex_destroy(&l->mu);
		free(l);
		return NULL;
	}
	l->lag_min = lag_min ? lag_min : RP_LEAD_LAG;
	return l;
}

void rp_lead_free(rp_lead *l)
{
	if (!l)
		return;
	pthread_cond_destroy(&l->moved);
	pthread_mutex_destroy(&l->mu);
	free(l);
}

uint64_t rp_lead_lag(const rp_lead *l, uint64_t requests)
{
	const uint64_t part = requests / 8;
	return part > l->lag_min ? part : l->lag_min;
}

bool rp_lead_publish(rp_lead *l, const replay *r)
{
	pthread_mutex_lock(&l->mu);
	l->requests = r->requests;
	l->n = r->n;
	for (int i = 0; i < r->n; i++) {
		l->peak[i] = r->mr[i].peak_request;
		l->worst[i] = r->mr[i].worst_request;
	}
	const bool stop = l->stop;
	pthread_cond_broadcast(&l->moved);
	pthread_mutex_unlock(&l->mu);
	return !stop;
}

void rp_lead_done(rp_lead *l, const rp_replay_result *res)
{
	pthread_mutex_lock(&l->mu);
	if (res) {
		l->n = res->nmodels < MAX_MODELS ? res->nmodels : MAX_MODELS;
		for (int i = 0; i < l->n; i++) {
			l->peak[i] = res->models[i].peak_request;
			l->worst[i] = res->models[i].worst_request;
		}
	}
	l->done = true;
	pthread_cond_broadcast(&l->moved);
	pthread_mutex_unlock(&l->mu);
}

void rp_lead_stop(rp_lead *l)
{
	pthread_mutex_lock(&l->mu);
	__atomic_store_n(&l->stop, true, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&l->mu);
}

bool rp_lead_stopped(rp_lead *l)
{
	return __atomic_load_n(&l->stop, __ATOMIC_RELAXED);
}

uint64_t rp_lead_wait(rp_lead *l, uint64_t want, int n, uint64_t *peak, uint64_t *worst)
{
	pthread_mutex_lock(&l->mu);
	while (!l->done && l->requests < want)
		pthread_cond_wait(&l->moved, &l->mu);
	for (int i = 0; i < n; i++) {
		peak[i] = i < l->n ? l->peak[i] : 0;
		worst[i] = i < l->n ? l->worst[i] : 0;
	}
	const uint64_t got = l->done ? UINT64_MAX : l->requests;
	pthread_mutex_unlock(&l->mu);
	return got;
}
