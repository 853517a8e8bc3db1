/* Small helpers shared by every module: ids, times, phone numbers. */
#include <ctype.h>
#include <string.h>
#include <stdio.h>
#include <time.h>

#include <uuid/uuid.h>

#include <keryu/events.h>

void keryu_uuid_new(char out[KERYU_UUID_LEN])
{
	uuid_t u;

	uuid_generate_random(u);
	uuid_unparse_lower(u, out);
}

bool keryu_uuid_valid(const char *s)
{
	static const int dash[] = {8, 13, 18, 23};
	size_t i, d = 0;

	if (!s || strlen(s) != 36)
		return false;
	for (i = 0; i < 36; i++) {
		if (d < 4 && (int)i == dash[d]) {
			if (s[i] != '-')
				return false;
			d++;
		} else if (!isxdigit((unsigned char)s[i])) {
			return false;
		}
	}
	return true;
}

void keryu_now_iso(char out[KERYU_TIME_LEN])
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(out, KERYU_TIME_LEN, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + 19, KERYU_TIME_LEN - 19, ".%03dZ",
		 (int)(ts.tv_nsec / 1000000L) % 1000);
}

bool keryu_e164_valid(const char *s)
{
	size_t n;

	if (!s || s[0] != '+' || s[1] < '1' || s[1] > '9')
		return false;
	n = strlen(s + 1);
	if (n < 8 || n > 15)
		return false;
	return strspn(s + 1, "0123456789") == n;
}
