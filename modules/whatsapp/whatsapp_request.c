/* Request URL and JSON body for the Cloud API (see providers.md). */
#include "whatsapp_request.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include <keryu/module.h>

/* A path segment we paste into the URL must not be able to escape it. */
static bool segment_ok(const char *s)
{
	if (!s || !*s)
		return false;
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || *s == 0x7f || strchr("/?#%", *s))
			return false;
	return true;
}

int whatsapp_request_url(const char *api_base, const char *version,
			 const char *phone_number_id, char **out)
{
	size_t n;
	int len;

	*out = NULL;
	if (!api_base || !strstr(api_base, "://") || !segment_ok(version) ||
	    !segment_ok(phone_number_id))
		return KERYU_EINVAL;
	n = strlen(api_base);
	while (n > 0 && api_base[n - 1] == '/')
		n--;
	len = asprintf(out, "%.*s/%s/%s/messages", (int)n, api_base, version,
		       phone_number_id);
	if (len < 0) {
		*out = NULL;
		return KERYU_ENOMEM;
	}
	return 0;
}

/* The token at the end of an acknowledgement link: the template's URL
 * button is "{public_url}/ack/{{1}}", so only the part after the last '/'
 * is its parameter. NULL when there is none. */
static const char *ack_token(const char *ack_url)
{
	const char *slash = strrchr(ack_url, '/');

	if (!slash || !slash[1])
		return NULL;
	return slash + 1;
}

static bool add_text_param(cJSON *params, const char *text)
{
	cJSON *p = cJSON_CreateObject();

	if (!p || !cJSON_AddItemToArray(params, p)) {
		cJSON_Delete(p);
		return false;
	}
	return cJSON_AddStringToObject(p, "type", "text") &&
	       cJSON_AddStringToObject(p, "text", text);
}

static cJSON *components(const struct keryu_notify_event *e,
			 const char *token)
{
	cJSON *list = cJSON_CreateArray();
	cJSON *c, *params;
	int i;

	if (!list)
		return NULL;
	if (e->param_count > 0) {
		c = cJSON_CreateObject();
		if (!c || !cJSON_AddItemToArray(list, c)) {
			cJSON_Delete(c);
			goto fail;
		}
		if (!cJSON_AddStringToObject(c, "type", "body") ||
		    !(params = cJSON_AddArrayToObject(c, "parameters")))
			goto fail;
		for (i = 0; i < e->param_count; i++)
			if (!add_text_param(params, e->params[i]))
				goto fail;
	}
	if (token) {
		c = cJSON_CreateObject();
		if (!c || !cJSON_AddItemToArray(list, c)) {
			cJSON_Delete(c);
			goto fail;
		}
		/* Meta wants the button index as a string */
		if (!cJSON_AddStringToObject(c, "type", "button") ||
		    !cJSON_AddStringToObject(c, "sub_type", "url") ||
		    !cJSON_AddStringToObject(c, "index", "0") ||
		    !(params = cJSON_AddArrayToObject(c, "parameters")) ||
		    !add_text_param(params, token))
			goto fail;
	}
	return list;
fail:
	cJSON_Delete(list);
	return NULL;
}

int whatsapp_request_body(const struct keryu_notify_event *e, bool ack_button,
			  char **out)
{
	const char *token = ack_button ? ack_token(e->ack_url) : NULL;
	cJSON *o, *tpl, *lang, *comp;

	*out = NULL;
	if (e->param_count < 0 || e->param_count > KERYU_NOTIFY_MAX_PARAMS)
		return KERYU_EINVAL;
	o = cJSON_CreateObject();
	if (!o || !cJSON_AddStringToObject(o, "messaging_product", "whatsapp") ||
	    !cJSON_AddStringToObject(o, "recipient_type", "individual") ||
	    !cJSON_AddStringToObject(o, "to", e->to) ||
	    !cJSON_AddStringToObject(o, "type", "template") ||
	    !cJSON_AddStringToObject(o, "biz_opaque_callback_data",
				     e->notification_id) ||
	    !(tpl = cJSON_AddObjectToObject(o, "template")) ||
	    !cJSON_AddStringToObject(tpl, "name", e->template_name) ||
	    !(lang = cJSON_AddObjectToObject(tpl, "language")) ||
	    !cJSON_AddStringToObject(lang, "code", e->language))
		goto fail;
	/* A template without variables takes no components; sending an empty
	 * parameter list would make Meta count 0 params against the template. */
	if (e->param_count > 0 || token) {
		if (!(comp = components(e, token)))
			goto fail;
		if (!cJSON_AddItemToObject(tpl, "components", comp)) {
			cJSON_Delete(comp);
			goto fail;
		}
	}
	*out = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return *out ? 0 : KERYU_ENOMEM;
fail:
	cJSON_Delete(o);
	return KERYU_ENOMEM;
}
