/*
 * attr.c - attribute names <-> bits. Attributes are persisted by name (cache files, database,
 * API); the bit values are private to one build.
 */
#include "fr_common.h"

#include <stdio.h>
#include <string.h>

static const struct {
    const char *name;
    unsigned bit;
} attr_table[] = {
#define X(name, bit) {#name, 1u << (bit)},
    FR_ATTRS(X)
#undef X
};

#define ATTR_COUNT (sizeof attr_table / sizeof attr_table[0])

const char *fr_attr_name(unsigned bit)
{
    for (size_t i = 0; i < ATTR_COUNT; i++)
        if (attr_table[i].bit == bit) return attr_table[i].name;
    return NULL;
}

fr_err fr_attr_parse(const char *name, unsigned *out_bit)
{
    for (size_t i = 0; i < ATTR_COUNT; i++) {
        if (strcmp(attr_table[i].name, name) == 0) {
            *out_bit = attr_table[i].bit;
            return FR_ERR_OK;
        }
    }
    return FR_ERR_INVALID_ARGUMENT;
}

void fr_attrs_format(unsigned attrs, char *buf, size_t len)
{
    size_t used = 0;
    if (len == 0) return;
    buf[0] = '\0';
    for (size_t i = 0; i < ATTR_COUNT; i++) {
        if (!(attrs & attr_table[i].bit)) continue;
        int n = snprintf(buf + used, len - used, "%s%s", used ? "|" : "", attr_table[i].name);
        if (n < 0 || (size_t)n >= len - used) return; /* truncated; buf stays terminated */
        used += (size_t)n;
    }
    if (used == 0) snprintf(buf, len, "-");
}
