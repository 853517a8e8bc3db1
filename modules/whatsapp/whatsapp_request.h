/* Building a Cloud API "send template message" request (providers.md).
 * Pure functions: no I/O, no globals, so they are unit-tested byte for byte. */
#ifndef WHATSAPP_REQUEST_H
#define WHATSAPP_REQUEST_H

#include <stdbool.h>

#include <keryu/events.h>

/* Sets *out to "{api_base}/{version}/{phone_number_id}/messages"; trailing
 * slashes of api_base are dropped. The caller frees *out with free().
 * Returns 0, KERYU_EINVAL (api_base without "://", or an empty version or
 * id, or one holding a character that would change the path: '/', '?',
 * '#', '%', space or control), KERYU_ENOMEM. *out is NULL on failure. */
int whatsapp_request_url(const char *api_base, const char *version,
			 const char *phone_number_id, char **out);

/* Sets *out to the compact JSON body for e: messaging_product, recipient_type,
 * to, type, biz_opaque_callback_data (the notification id), template {name,
 * language {code}, components [{body, parameters [text...]}, {button}]}.
 * With ack_button and an ack_url, the button component is {type "button",
 * sub_type "url", index "0", parameters [{type "text", text <the part of
 * ack_url after its last '/'>}]}, for a template whose URL button is
 * "{public_url}/ack/{{1}}". components is left out when there is neither
 * a parameter nor a button. The caller frees *out with free().
 * Returns 0, KERYU_EINVAL (param_count out of range), KERYU_ENOMEM. */
int whatsapp_request_body(const struct keryu_notify_event *e, bool ack_button,
			  char **out);

#endif
