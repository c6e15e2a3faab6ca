/*
 * LD_PRELOAD shim for the Janus benchmark (built at bench time into a temp dir, never shipped).
 * Janus 1.1.2 skips interfaces flagged IFF_LOOPBACK when gathering ICE candidates, so on a
 * loopback-only benchmark it would offer none. This wraps getifaddrs() and clears the flag.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <ifaddrs.h>
#include <net/if.h>

int getifaddrs(struct ifaddrs **ifap) {
    int (*real)(struct ifaddrs **) = (int (*)(struct ifaddrs **))dlsym(RTLD_NEXT, "getifaddrs");
    if (!real) return -1;
    int rc = real(ifap);
    if (rc == 0) {
        for (struct ifaddrs *i = *ifap; i; i = i->ifa_next) i->ifa_flags &= ~IFF_LOOPBACK;
    }
    return rc;
}
