/* Reads about tags: what the scan page and the alarm need to know. */
#include <ctype.h>
#include <string.h>

#include "storage_pool.h"
#include "storage_service.h"

void storage_copy_text(char *dst, size_t size, const char *src)
{
	size_t n;

	if (!size)
		return;
	n = src ? strlen(src) : 0;
	if (n >= size) {
		n = size - 1;
		/* back off continuation bytes so no character is split */
		while (n > 0 && ((unsigned char)src[n] & 0xC0) == 0x80)
			n--;
	}
	if (n)
		memcpy(dst, src, n);
	dst[n] = '\0';
}

static int ping_work(struct storage_pool *p, PGconn *c, void *arg)
{
	(void)arg;
	return storage_db_exec(p, c, "ping", "SELECT 1", 0, NULL, NULL);
}

int storage_ping(void *self)
{
	int rc = storage_pool_run(self, "ping", ping_work, NULL);

	return rc ? KERYU_EIO : 0;
}

struct lookup {
	const char *qr_uuid;
	struct keryu_tag_info *out;
};

/* The first word of a name, for a greeting that does not spell out the
 * full name. */
static void first_word(char *dst, size_t size, const char *name)
{
	size_t n;

	while (*name && isspace((unsigned char)*name))
		name++;
	for (n = 0; name[n] && !isspace((unsigned char)name[n]); n++)
		;
	if (n >= size)
		n = size - 1;
	storage_copy_text(dst, n + 1, name);
}

static int lookup_work(struct storage_pool *p, PGconn *c, void *arg)
{
	struct lookup *l = arg;
	const char *v[] = {l->qr_uuid};
	PGresult *r;
	int rc;

	rc = storage_db_row(p, c, "tag_lookup",
			    "SELECT q.uuid::text, s.id::text, "
			    "s.custodian_id::text, s.name "
			    "FROM subject_qr_codes q "
			    "JOIN subjects s ON s.id = q.subject_id "
			    "WHERE q.uuid = $1::uuid "
			    "AND q.is_active AND s.is_active",
			    1, v, &r);
	if (rc)
		return rc;
	storage_copy_text(l->out->qr_uuid, sizeof(l->out->qr_uuid),
			  PQgetvalue(r, 0, 0));
	storage_copy_text(l->out->subject_id, sizeof(l->out->subject_id),
			  PQgetvalue(r, 0, 1));
	storage_copy_text(l->out->custodian_id, sizeof(l->out->custodian_id),
			  PQgetvalue(r, 0, 2));
	storage_copy_text(l->out->subject_name, sizeof(l->out->subject_name),
			  PQgetvalue(r, 0, 3));
	first_word(l->out->first_name, sizeof(l->out->first_name),
		   l->out->subject_name);
	PQclear(r);
	return 0;
}

int storage_tag_lookup(void *self, const char *qr_uuid,
		       struct keryu_tag_info *out)
{
	struct lookup l = {qr_uuid, out};

	if (!out)
		return KERYU_EINVAL;
	memset(out, 0, sizeof(*out));
	if (!keryu_uuid_valid(qr_uuid))
		return KERYU_EINVAL;
	return storage_pool_run(self, "tag_lookup", lookup_work, &l);
}
