/* Configuration: where every option's effective value comes from.
 *
 * Lowest to highest:
 *   1. the option table's default (struct keryu_option.def)
 *   2. a default computed at run time (config_set_default, e.g. hostname)
 *   3. the INI file (config/keryu.conf, or --config PATH)
 *   4. a ".env" file in the working directory (KEY=VALUE lines)
 *   5. the real environment
 *   6. an override set by the program (config_set, e.g. --modules)
 * In the environment and in .env, KERYU_<SECTION>_<KEY> (upper case) names
 * any option; a few common names are also understood (DATABASE_URL,
 * MQTT_URL, KERYU_SECRET_KEY, DEBUG, ALLOWED_HOSTS), and the specific name
 * wins over the common one.
 *
 * Sections that have an option table (config_declare) are validated and
 * resolved once, at start-up; after that every lookup is read-only and safe
 * from any thread. Error messages are one line, without a program name:
 *   config: [whatsapp] timeout_ms: "abc" is not an integer
 */
#ifndef KERYU_KERNEL_CONFIG_H
#define KERYU_KERNEL_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <keryu/module.h>

struct config;

/* Returns NULL when out of memory. */
struct config *config_new(void);
void config_free(struct config *c);

/* Reads the INI file at path; when path is NULL, reads the default
 * "config/keryu.conf" if it exists. Then reads ".env" in the working
 * directory if it exists. Returns 0, or KERYU_EINVAL / KERYU_ENOMEM with a
 * message in err. */
int config_load(struct config *c, const char *path, char *err, size_t errlen);

/* Overrides (level 6) and run-time defaults (level 2); value is copied.
 * Returns 0 or KERYU_ENOMEM. Call before config_declare of that section. */
int config_set(struct config *c, const char *section, const char *key,
	       const char *value);
int config_set_default(struct config *c, const char *section, const char *key,
		       const char *value);

/* Resolves and validates every option of section against opts (which must
 * outlive c): unknown keys in the file or in overrides, integers, ranges,
 * booleans, URLs, required values. Returns 0, or KERYU_EINVAL with a
 * message in err, or KERYU_ECONFLICT if the section was already declared. */
int config_declare(struct config *c, const char *section,
		   const struct keryu_option *opts, char *err, size_t errlen);

/* The effective value of a declared option, "" when empty; NULL when the
 * section or key is not declared. Owned by c. */
const char *config_get(const struct config *c, const char *section,
		       const char *key);
/* As config_get, but for a section nobody declared it returns what the
 * file or the environment say (NULL when nothing does). */
const char *config_lookup(const struct config *c, const char *section,
			  const char *key);
/* Parsed forms; 0 / false when the key is undeclared or of another type. */
long long config_get_int(const struct config *c, const char *section,
			 const char *key);
bool config_get_bool(const struct config *c, const char *section,
		     const char *key);

/* Parses a boolean as options accept it. Returns 0 or KERYU_EINVAL. */
int config_parse_bool(const char *s, bool *out);

/* Prints a declared section as "[section] key = value  # help" lines,
 * secrets masked. Returns 0 or KERYU_ENOTFOUND. */
int config_print(const struct config *c, const char *section, FILE *out);

#endif
