/*
 * An LD_PRELOAD shim that sets a redis-server's wall clock off the host's by an offset a test can
 * change while the server runs: what a Sentinel failover to a master whose clock differs looks
 * like to the gates, on one machine (test/chaos/clock-after-outage.test.ts).
 *
 * Why not libfaketime: Debian's redis-server links jemalloc, whose start calls clock_gettime()
 * before libfaketime has initialised; libfaketime detects the recursion and the server hangs
 * before it listens (libfaketime issue #130, unfixed). This shim replaces gettimeofday() alone,
 * which jemalloc never calls and which Redis 7.0 reads for TIME, stream ids and key expiry
 * (ustime(), mstime(), the cached server time); its monotonic clock (CLOCK_MONOTONIC) and every
 * clock_gettime() are left as they are.
 *
 * The offset is the signed whole number of milliseconds in the file QG_REDIS_CLOCK_OFFSET_FILE
 * names (absent or unreadable: 0). The file is read on every call, so a step takes effect at the
 * server's next reading; the test replaces it by a rename, so a reading never meets a half-written
 * file. Nothing here allocates (open, pread and close only): a malloc inside gettimeofday() is
 * what would reach jemalloc.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* The last offset read whole: kept when a reading finds no file or no number. */
static long long last_offset_ms = 0;

static long long offset_ms(void) {
  const char *path = getenv("QG_REDIS_CLOCK_OFFSET_FILE");
  if (path == NULL) return 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return __atomic_load_n(&last_offset_ms, __ATOMIC_RELAXED);
  char text[32];
  ssize_t n = pread(fd, text, sizeof text - 1, 0);
  close(fd);
  if (n <= 0) return __atomic_load_n(&last_offset_ms, __ATOMIC_RELAXED);
  text[n] = '\0';
  char *end = NULL;
  long long parsed = strtoll(text, &end, 10);
  if (end == text) return __atomic_load_n(&last_offset_ms, __ATOMIC_RELAXED);
  __atomic_store_n(&last_offset_ms, parsed, __ATOMIC_RELAXED);
  return parsed;
}

int gettimeofday(struct timeval *restrict tv, void *restrict tz) {
  (void)tz; /* obsolete; Redis passes NULL */
  struct timespec now;
  /* libc's own clock_gettime, not this shim's: the host's wall clock, plus the offset. */
  if (clock_gettime(CLOCK_REALTIME, &now) != 0) return -1;
  long long us = (long long)now.tv_sec * 1000000LL + now.tv_nsec / 1000 + offset_ms() * 1000LL;
  tv->tv_sec = (time_t)(us / 1000000LL);
  tv->tv_usec = (suseconds_t)(us % 1000000LL);
  return 0;
}
