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

/* Digits at s[0..n-1] as a number, or -1 when any is not a digit. */
static int digits(const char *s, int n)
{
	int v = 0, i;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

bool keryu_time_valid(const char *s)
{
	static const int mdays[] = {31, 28, 31, 30, 31, 30,
				    31, 31, 30, 31, 30, 31};
	static const char shape[] = "dddd-dd-ddTdd:dd:dd";
	int y, mo, d, h, mi, sec, dim;
	size_t i;

	/* the shape first, byte by byte, so a short string stops at its NUL */
	if (!s)
		return false;
	for (i = 0; i < 19; i++) {
		if (shape[i] == 'd' ? s[i] < '0' || s[i] > '9' : s[i] != shape[i])
			return false;
	}
	y = digits(s, 4);
	mo = digits(s + 5, 2);
	d = digits(s + 8, 2);
	h = digits(s + 11, 2);
	mi = digits(s + 14, 2);
	sec = digits(s + 17, 2);
	if (y < 1 || mo < 1 || mo > 12 || h > 23 || mi > 59 || sec > 59)
		return false;
	dim = mdays[mo - 1];
	if (mo == 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))
		dim = 29;
	if (d < 1 || d > dim)
		return false;
	s += 19;
	if (*s == '.') {
		for (i = 1; s[i] >= '0' && s[i] <= '9'; i++)
			;
		if (i < 2 || i > 7)
			return false;
		s += i;
	}
	return s[0] == 'Z' && s[1] == '\0';
}

/* Length of the well-formed UTF-8 sequence at s (1-4), or 0 when the byte
 * at s does not start one (Unicode 15, table 3-7). Reads no further than
 * the first byte that does not fit, so a NUL ends it. */
static size_t utf8_seq(const unsigned char *s)
{
	unsigned char lo = 0x80, hi = 0xBF;
	size_t n, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xC2 && s[0] <= 0xDF)
		n = 2;
	else if (s[0] >= 0xE0 && s[0] <= 0xEF)
		n = 3;
	else if (s[0] >= 0xF0 && s[0] <= 0xF4)
		n = 4;
	else
		return 0; /* continuation byte, C0/C1 overlong lead, F5..FF */
	/* the second byte's range is what rules out overlongs, surrogates
	 * (ED A0..BF) and code points over U+10FFFF */
	if (s[0] == 0xE0)
		lo = 0xA0;
	else if (s[0] == 0xED)
		hi = 0x9F;
	else if (s[0] == 0xF0)
		lo = 0x90;
	else if (s[0] == 0xF4)
		hi = 0x8F;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xBF)
			return 0;
	return n;
}

size_t keryu_utf8_copy(char *dst, size_t size, const char *src)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t out = 0, n;

	if (size == 0)
		return 0;
	while (s && *s) {
		n = utf8_seq(s);
		if (n == 0) {
			if (out + 1 >= size)
				break;
			dst[out++] = '?';
			s++;
			continue;
		}
		if (out + n >= size)
			break; /* never half a character */
		memcpy(dst + out, s, n);
		out += n;
		s += n;
	}
	dst[out] = '\0';
	return out;
}
