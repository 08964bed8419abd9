/*
 * request.c - the request as handlers see it: query parameters, the parsed body, and setters for
 * the response. Everything a request owns is released by frs_req_free, which the dispatcher
 * calls once, from libmicrohttpd's completion callback.
 */
#include "server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

uint64_t frs_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

fr_err frs_req_new(frs_server *srv, frs_req **out)
{
    frs_req *r = calloc(1, sizeof *r);
    if (!r) return FR_ERR_NOMEM;
    r->srv = srv;
    r->out_fd = -1;
    r->client_fd = -1;
    r->start_us = frs_now_us();
    *out = r;
    return FR_ERR_OK;
}

/* Drops a response body that was set but will not be sent. */
static void drop_response(frs_req *r)
{
    json_decref(r->out_json);
    r->out_json = NULL;
    if (r->out_free) r->out_free(r->out_free_cls);
    r->out_free = NULL;
    r->out_data = NULL;
    r->out_len = 0;
    if (r->out_fd >= 0) close(r->out_fd);
    r->out_fd = -1;
    r->nout_headers = 0;
}

void frs_req_free(frs_req *r)
{
    if (!r) return;
    drop_response(r);
    json_decref(r->json);
    free(r->body);
    free(r->path);
    for (size_t i = 0; i < FRS_MAX_PATH_PARAMS; i++)
        free(r->path_params[i]);
    free(r);
}

const char *frs_param(const frs_req *r, const char *name)
{
    for (size_t i = 0; i < r->nparams; i++)
        if (strcmp(r->params[i].name, name) == 0) return r->params[i].value;
    return NULL;
}

fr_err frs_params_only(frs_req *r, const char *const *allowed)
{
    for (size_t i = 0; i < r->nparams; i++) {
        bool known = false;
        for (size_t j = 0; allowed[j] && !known; j++)
            known = !strcmp(allowed[j], r->params[i].name);
        if (!known)
            return fr_diag_set(&r->diag, FR_ERR_BAD_REQUEST, "unknown query parameter '%.64s'",
                               r->params[i].name);
    }
    return FR_ERR_OK;
}

void frs_reply_json(frs_req *r, int status, json_t *body)
{
    drop_response(r);
    r->status = status;
    r->out_json = body;
    r->out_type = "application/json";
}

void frs_reply_data(frs_req *r, int status, const char *type, void *data, size_t len,
                    frs_free_fn fn, void *cls)
{
    drop_response(r);
    r->status = status;
    r->out_data = data;
    r->out_len = len;
    r->out_free = fn;
    r->out_free_cls = cls;
    r->out_type = type;
}

void frs_reply_file(frs_req *r, int status, const char *type, int fd, uint64_t size)
{
    drop_response(r);
    r->status = status;
    r->out_fd = fd;
    r->out_fd_size = size;
    r->out_type = type;
}

void frs_reply_empty(frs_req *r, int status)
{
    drop_response(r);
    r->status = status;
    r->out_type = NULL;
}

void frs_reply_header(frs_req *r, const char *name, const char *value)
{
    if (r->nout_headers == FRS_MAX_OUT_HEADERS) return; /* a programming error; caught by tests */
    r->out_headers[r->nout_headers].name = name;
    snprintf(r->out_headers[r->nout_headers].value, sizeof r->out_headers[0].value, "%s", value);
    r->nout_headers++;
}

fr_err frs_body_object(frs_req *r, json_t **out)
{
    if (!json_is_object(r->json))
        return fr_diag_set(&r->diag, FR_ERR_BAD_REQUEST,
                           "request body: expected a JSON object (Content-Type: application/json)");
    *out = r->json;
    return FR_ERR_OK;
}
