/*
 * Preloaded into `criu lazy-pages` (LD_PRELOAD) by the host agent. Two changes to how
 * CRIU 4.2's lazy-pages daemon serves a lazily restored capsule; neither changes what is
 * delivered (every page, from the image), only when.
 *
 * 1. Page faults before background copying. After a lazy restore the daemon serves page
 *    faults and, between them, copies the rest of the image in the background, one chunk
 *    (up to 4 MiB, ~0.3 ms for the 1 MiB chunks of a python heap) per loop. It looks for
 *    pending faults with epoll_wait(timeout 0): a process that faults again a few
 *    microseconds after its last fault was served finds the daemon inside the next chunk,
 *    and waits for it. A process touching hundreds of pages (envd answering its first
 *    requests after a resume) then runs at one page per chunk: measured, envd's /init took
 *    ~135 ms while a 512 MB process was copied beside it, ~20 ms with this shim.
 *    Here, while faults keep coming (one in the last WRENN_LAZY_PAGES_BUSY_MS, default
 *    10 ms), an epoll_wait with timeout 0 waits up to WRENN_LAZY_PAGES_YIELD_US
 *    microseconds (default 200) for the next event. When nothing has faulted for a while,
 *    timeout 0 stays 0 and the background copy runs at full speed.
 *
 * 2. Faults are not lost. While a process has a non-cooperative event in flight (its
 *    madvise(MADV_DONTNEED), which V8's garbage collector does on another thread; a fork),
 *    the kernel refuses UFFDIO_COPY with EAGAIN. CRIU then puts the page back among those
 *    to copy in the background, but the thread that faulted on it is never woken: it
 *    sleeps until the background copy reaches that page (measured: 130-300 ms for the
 *    first exec after a 512 MB resume, about one in four resumes; seconds for bigger
 *    images). Here such a range is remembered, and once the daemon has read every pending
 *    message (the event included), UFFDIO_WAKE wakes its threads: they fault again, and
 *    the daemon serves the fault as usual. Waking a range nobody waits on does nothing.
 *
 * Every other call passes through unchanged. Built by scripts/install-criu.sh when a C
 * compiler is present; without it lazy restore works as CRIU ships it.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <linux/userfaultfd.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifndef __NR_epoll_pwait2
#define __NR_epoll_pwait2 441
#endif

typedef int (*epoll_wait_fn)(int, struct epoll_event *, int, int);
typedef int (*ioctl_fn)(int, unsigned long, void *);

static epoll_wait_fn real_epoll_wait;
static ioctl_fn real_ioctl;
static long yield_ns = -1;
static long busy_ns;
/* When an epoll_wait last returned an event (CLOCK_MONOTONIC, ns). */
static long long last_event_ns;

/* Ranges whose copy was refused with EAGAIN, to wake once the daemon has read its messages. */
#define MAX_PENDING 256
static struct {
	int fd;
	struct uffdio_range range;
} pending[MAX_PENDING];
static int npending;

static void init(void)
{
	if (real_epoll_wait)
		return;
	real_epoll_wait = (epoll_wait_fn)dlsym(RTLD_NEXT, "epoll_wait");
	real_ioctl = (ioctl_fn)dlsym(RTLD_NEXT, "ioctl");
	const char *y = getenv("WRENN_LAZY_PAGES_YIELD_US");
	const char *b = getenv("WRENN_LAZY_PAGES_BUSY_MS");
	long us = y ? atol(y) : 200;
	long ms = b ? atol(b) : 10;
	yield_ns = us > 0 && us <= 100000 ? us * 1000 : 0;
	busy_ns = ms > 0 && ms <= 10000 ? ms * 1000000 : 0;
}

static long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void remember(int fd, __u64 start, __u64 len)
{
	if (npending == MAX_PENDING)
		return; /* the background copy still reaches those pages, only later */
	pending[npending].fd = fd;
	pending[npending].range.start = start;
	pending[npending].range.len = len;
	npending++;
}

static void wake_pending(void)
{
	for (int i = 0; i < npending; i++)
		real_ioctl(pending[i].fd, UFFDIO_WAKE, &pending[i].range);
	npending = 0;
}

int ioctl(int fd, unsigned long request, ...)
{
	va_list ap;
	va_start(ap, request);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	init();
	int ret = real_ioctl(fd, request, arg);
	if (ret < 0 && errno == EAGAIN) {
		int saved = errno;
		if (request == UFFDIO_COPY)
			remember(fd, ((struct uffdio_copy *)arg)->dst, ((struct uffdio_copy *)arg)->len);
		else if (request == UFFDIO_ZEROPAGE)
			remember(fd, ((struct uffdio_zeropage *)arg)->range.start, ((struct uffdio_zeropage *)arg)->range.len);
		errno = saved;
	}
	return ret;
}

/* epoll_wait with a timeout in nanoseconds (epoll_wait's is in milliseconds). */
static int wait_ns(int epfd, struct epoll_event *events, int maxevents, long ns)
{
	struct timespec ts = { .tv_sec = 0, .tv_nsec = ns };
	long ret = syscall(__NR_epoll_pwait2, epfd, events, maxevents, &ts, NULL, 0);
	if (ret < 0 && errno == ENOSYS) {
		yield_ns = 0; /* Linux < 5.11: no yielding */
		return real_epoll_wait(epfd, events, maxevents, 0);
	}
	/* A signal during the wait: as a zero timeout would have, report nothing ready. */
	if (ret < 0 && errno == EINTR)
		return 0;
	return (int)ret;
}

int epoll_wait(int epfd, struct epoll_event *events, int maxevents, int timeout)
{
	init();
	int ret;
	if (timeout != 0) {
		/* About to sleep: nobody may stay asleep on a refused copy meanwhile. */
		wake_pending();
		ret = real_epoll_wait(epfd, events, maxevents, timeout);
	} else if (yield_ns > 0 && now_ns() - last_event_ns <= busy_ns) {
		ret = wait_ns(epfd, events, maxevents, yield_ns);
	} else {
		ret = real_epoll_wait(epfd, events, maxevents, 0);
	}
	if (ret == 0 && npending > 0) {
		/* Every message is read, the events behind the refusals too: wake, and let the
		 * faults that follow come in before the background copy goes on. */
		wake_pending();
		ret = yield_ns > 0 ? wait_ns(epfd, events, maxevents, yield_ns) : 0;
	}
	if (ret > 0)
		last_event_ns = now_ns();
	return ret;
}
