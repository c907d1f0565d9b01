/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * gangctl: what virsh does not do for KVM gang scheduling.  libvirt itself
 * knows the gang (<features><kvm><gang state='on' mode=.../></kvm></features>,
 * libvirt-patches/): it validates the element, refuses it without a QEMU
 * that has the property and shows the gang's statistics in
 * "virsh domstats --vm --vcpu".  What is left is host policy, and it lives
 * here, in one place: the pinning rules of a gang domain, which the kvm-gang
 * qemu hook enforces at start ("check"), and pinning a gang to free host
 * CPUs of one NUMA node, away from other gangs ("enable").  docs/gangctl.1
 * is the manual; the usage text below matches it.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>

/* Host CPU numbers gangctl handles, as libvirt's own cpuset limit. */
#define MAX_CPUS 16384
#define SKEW_NS_MAX 1000000000ULL
#define EXIT_USAGE 2
#define UNPINNED (-1)
#define MANY_CPUS (-2)
#define GANG_XPATH "/domain/features/kvm/gang[@state='on']"
#define XML_FLAGS (XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING)

static const char *usageText =
"usage: gangctl [--connect URI] COMMAND [ARGS]\n"
"Commands:\n"
"  enable DOMAIN [--mode strict|relaxed] [--skew-ns N] [--cpus LIST]\n"
"                  add the gang element, pin the vCPUs 1:1 to free host CPUs\n"
"                  and the emulator threads to the others (a new definition)\n"
"  status DOMAIN   the gang, the pinning, the hook's verdict (read-only)\n"
"  list            the gang domains (read-only)\n"
"  check DOMAIN    the hook's pinning rule on the domain XML on stdin\n"
"Options:\n"
"  -c, --connect URI   connect to URI instead of libvirt's default\n"
"  -m, --mode MODE     strict (the default) or relaxed\n"
"  -s, --skew-ns N     relaxed mode's threshold in ns, 0 to 1000000000;\n"
"                      needs --mode relaxed\n"
"  -C, --cpus LIST     host CPUs for vCPU 0, 1, ... in this order, e.g. 2,3\n"
"                      (default: the highest free ones of one NUMA node)\n"
"  -h, --help          show this help and exit\n"
"Exit status: 0 success, 1 failure, 2 usage error.  See gangctl(1).\n";

/* What the gang's host policy reads of a domain definition. */
struct gangDef {
    xmlDocPtr doc;
    xmlXPathContextPtr ctxt;
    char *mode;             /* NULL: no gang */
    char *skewNs;           /* NULL without the attribute */
    char *placement;
    char *emulatorpin;      /* NULL without <emulatorpin> */
    int *vcpuCPU;           /* per vCPU: its host CPU, UNPINNED or MANY_CPUS */
    unsigned int nvcpus;
    unsigned int niothreads;
};

static void fail(const char *name, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* One line on stderr: "gangctl: [domain 'NAME': ]WHAT". */
static void
fail(const char *name, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "gangctl: %s%s%s", name ? "domain '" : "", name ? name : "",
            name ? "': " : "");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* A failed libvirt call: what failed, then libvirt's message. */
static void
failVir(const char *name, const char *what)
{
    fail(name, "%s: %s", what, virGetLastErrorMessage());
}

/* libvirt prints every error to stderr by default; gangctl reports its own. */
static void
silentErrorFunc(void *opaque __attribute__((unused)),
                virErrorPtr err __attribute__((unused)))
{
}

/*
 * Parse a CPU list as libvirt writes it ("0,2-3") into @cpus, in the order
 * given.  Returns the number of CPUs, or -1 with @why set.
 */
static int
parseCPUList(const char *list, int *cpus, const char **why)
{
    static bool seen[MAX_CPUS];
    const char *p = list;
    int ncpus = 0;

    memset(seen, 0, sizeof(seen));
    *why = "is not a CPU list such as 2,3 or 2-3";
    while (*p) {
        unsigned long first, last;
        char *end;

        if (*p < '0' || *p > '9')
            return -1;
        errno = 0;
        first = last = strtoul(p, &end, 10);
        if (*end == '-' && end[1] >= '0' && end[1] <= '9')
            last = strtoul(end + 1, &end, 10);
        if (errno || first > last || (*end && (*end != ',' || !end[1])))
            return -1;
        p = end + (*end == ',');
        if (last >= MAX_CPUS) {
            *why = "has a CPU number beyond libvirt's limit";
            return -1;
        }
        for (; first <= last; first++) {
            if (seen[first]) {
                *why = "names a host CPU twice";
                return -1;
            }
            seen[first] = true;
            cpus[ncpus++] = first;
        }
    }
    if (ncpus == 0)
        *why = "names no host CPU";
    return ncpus ? ncpus : -1;
}

/* The string value of the first node @expr selects, malloc'ed; else NULL. */
static char *
xpathString(xmlXPathContextPtr ctxt, const char *fmt, ...)
{
    xmlXPathObjectPtr obj;
    char *ret = NULL;
    char expr[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(expr, sizeof(expr), fmt, ap);
    va_end(ap);
    if (!(obj = xmlXPathEvalExpression(BAD_CAST expr, ctxt)))
        return NULL;
    if (obj->type == XPATH_NODESET && obj->nodesetval && obj->nodesetval->nodeNr > 0) {
        xmlChar *value = xmlNodeGetContent(obj->nodesetval->nodeTab[0]);

        ret = strdup(value ? (const char *)value : "");
        xmlFree(value);
    }
    xmlXPathFreeObject(obj);
    return ret;
}

static void
gangDefFree(struct gangDef *def)
{
    free(def->vcpuCPU);
    free(def->mode);
    free(def->skewNs);
    free(def->placement);
    free(def->emulatorpin);
    xmlXPathFreeContext(def->ctxt);
    xmlFreeDoc(def->doc);
    memset(def, 0, sizeof(*def));
}

/* Read the domain XML @doc into @def, which owns it; freed by gangDefFree(). */
static int
gangDefParse(xmlDocPtr doc, struct gangDef *def)
{
    static int cpus[MAX_CPUS];
    const char *why;
    char *value;
    char *end;
    unsigned int i;

    memset(def, 0, sizeof(*def));
    if (!(def->doc = doc) || !(def->ctxt = xmlXPathNewContext(doc)) ||
        !(value = xpathString(def->ctxt, "/domain/vcpu")))
        return -1;
    errno = 0;
    def->nvcpus = strtoul(value, &end, 10);
    if (errno || end == value || *end || def->nvcpus == 0 || def->nvcpus > MAX_CPUS ||
        !(def->vcpuCPU = calloc(def->nvcpus, sizeof(*def->vcpuCPU)))) {
        free(value);
        return -1;
    }
    free(value);
    if ((value = xpathString(def->ctxt, GANG_XPATH)) &&
        !(def->mode = xpathString(def->ctxt, GANG_XPATH "/@mode")))
        def->mode = strdup("strict");
    free(value);
    def->skewNs = xpathString(def->ctxt, GANG_XPATH "/@skew-ns");
    def->placement = xpathString(def->ctxt, "/domain/vcpu/@placement");
    def->emulatorpin = xpathString(def->ctxt, "/domain/cputune/emulatorpin/@cpuset");
    if ((value = xpathString(def->ctxt, "/domain/iothreads")))
        def->niothreads = strtoul(value, NULL, 10);
    free(value);
    for (i = 0; i < def->nvcpus; i++) {
        value = xpathString(def->ctxt, "/domain/cputune/vcpupin[@vcpu='%u']/@cpuset", i);
        if (!value)
            def->vcpuCPU[i] = UNPINNED;
        else if (parseCPUList(value, cpus, &why) == 1)
            def->vcpuCPU[i] = cpus[0];
        else
            def->vcpuCPU[i] = MANY_CPUS;
        free(value);
    }
    return 0;
}

/* Read @dom's definition (@flags of virDomainGetXMLDesc) into @def. */
static int
gangDefRead(virDomainPtr dom, unsigned int flags, struct gangDef *def)
{
    char *xml;
    int ret;

    memset(def, 0, sizeof(*def));
    if (!(xml = virDomainGetXMLDesc(dom, flags))) {
        failVir(virDomainGetName(dom), "cannot read the definition");
        return -1;
    }
    if ((ret = gangDefParse(xmlReadMemory(xml, strlen(xml), "domain.xml", NULL, XML_FLAGS),
                            def)) < 0)
        fail(virDomainGetName(dom), "cannot parse the definition");
    free(xml);
    return ret;
}

/*
 * The pinning rules of a gang domain: each vCPU on a host CPU of its own,
 * the emulator threads on other host CPUs, so that the VM never preempts its
 * own members; only host noise does.  Writes the first broken rule into
 * @buf and returns false; true when all hold.
 */
static bool
gangDefPinningOK(const struct gangDef *def, char *buf, size_t size)
{
    static int vcpuOf[MAX_CPUS];
    static int cpus[MAX_CPUS];
    const char *why;
    unsigned int i;
    int ncpus, j;

    if (def->placement && strcmp(def->placement, "auto") == 0) {
        snprintf(buf, size, "<vcpu placement='auto'> lets numad place the vCPUs; pin every vCPU with <cputune><vcpupin>");
        return false;
    }
    memset(vcpuOf, 0xff, sizeof(vcpuOf));
    for (i = 0; i < def->nvcpus; i++) {
        int cpu = def->vcpuCPU[i];

        if (cpu == UNPINNED)
            snprintf(buf, size, "vCPU %u is not pinned: add <vcpupin vcpu='%u' cpuset='CPU'/> to <cputune>", i, i);
        else if (cpu == MANY_CPUS)
            snprintf(buf, size, "vCPU %u is pinned to several host CPUs, not to exactly one", i);
        else if (vcpuOf[cpu] >= 0)
            snprintf(buf, size, "vCPUs %d and %u are both pinned to host CPU %d", vcpuOf[cpu], i, cpu);
        else
            vcpuOf[cpu] = i;
        if (cpu < 0 || vcpuOf[cpu] != (int)i)
            return false;
    }
    if (!def->emulatorpin) {
        snprintf(buf, size, "emulator threads are not pinned: add <emulatorpin cpuset='CPUS'/> to <cputune>, off the vCPUs' host CPUs");
        return false;
    }
    if ((ncpus = parseCPUList(def->emulatorpin, cpus, &why)) < 0) {
        snprintf(buf, size, "emulatorpin '%s' %s", def->emulatorpin, why);
        return false;
    }
    for (j = 0; j < ncpus; j++) {
        if (vcpuOf[cpus[j]] >= 0) {
            snprintf(buf, size, "emulator threads are pinned to host CPU %d (emulatorpin '%s'), which vCPU %d uses",
                     cpus[j], def->emulatorpin, vcpuOf[cpus[j]]);
            return false;
        }
    }
    /* I/O threads are the VM's own threads too. */
    for (i = 1; i <= def->niothreads; i++) {
        char *pin = xpathString(def->ctxt, "/domain/cputune/iothreadpin[@iothread='%u']/@cpuset", i);

        ncpus = pin ? parseCPUList(pin, cpus, &why) : -1;
        for (j = 0; j < ncpus && vcpuOf[cpus[j]] < 0; j++)
            ;
        free(pin);
        if (ncpus < 0 || j < ncpus) {
            snprintf(buf, size, "I/O thread %u is not pinned off the vCPUs' host CPUs: pin it with <iothreadpin iothread='%u' cpuset='CPUS'/>",
                     i, i);
            return false;
        }
    }
    return true;
}

/* The qemu hook's check: the domain XML on stdin, a veto line on stderr. */
static int
cmdCheck(const char *name)
{
    struct gangDef def;
    char problem[512];
    int ret = EXIT_FAILURE;

    if (gangDefParse(xmlReadFd(0, "stdin.xml", NULL, XML_FLAGS), &def) < 0)
        fprintf(stderr, "kvm-gang: domain '%s': cannot parse the domain XML on standard input\n", name);
    else if (def.mode && !gangDefPinningOK(&def, problem, sizeof(problem)))
        fprintf(stderr, "kvm-gang: domain '%s': %s\n", name, problem);
    else
        ret = EXIT_SUCCESS;
    gangDefFree(&def);
    return ret;
}

/*
 * Choose the host CPUs for @def's vCPUs into @chosen: free ones, online and
 * no other gang's (@owner), leaving one for the emulator threads; the
 * highest of the first NUMA node that has enough, so a gang stays on one
 * node and CPU 0 stays with the host.
 */
static int
pickCPUs(virConnectPtr conn, const char *name, const unsigned char *online,
         int nhostcpus, const char **owner, unsigned int nvcpus, int *chosen)
{
    static int node[MAX_CPUS];
    xmlXPathContextPtr ctxt = NULL;
    xmlDocPtr doc = NULL;
    unsigned int nfree = 0;
    int maxNode = 0;
    char *caps, *cell;
    int cpu, n;

    if (!(caps = virConnectGetCapabilities(conn))) {
        failVir(NULL, "cannot read the host capabilities");
        return -1;
    }
    doc = xmlReadMemory(caps, strlen(caps), "caps.xml", NULL, XML_FLAGS);
    ctxt = doc ? xmlXPathNewContext(doc) : NULL;
    for (cpu = 0; cpu < nhostcpus; cpu++) {
        /* Without a topology in the capabilities, every CPU is on node 0. */
        cell = ctxt ? xpathString(ctxt, "//topology/cells/cell[cpus/cpu/@id='%d']/@id", cpu) : NULL;
        node[cpu] = cell ? atoi(cell) : 0;
        maxNode = node[cpu] > maxNode ? node[cpu] : maxNode;
        nfree += VIR_CPU_USED(online, cpu) && !owner[cpu];
        free(cell);
    }
    xmlXPathFreeContext(ctxt);
    xmlFreeDoc(doc);
    free(caps);
    if (nfree < nvcpus + 1) {
        fail(name, "%u vCPUs and the emulator threads need %u host CPUs, %u of the host's %d CPUs are online and free of other gangs",
             nvcpus, nvcpus + 1, nfree, nhostcpus);
        return -1;
    }
    for (n = 0; n <= maxNode; n++) {
        unsigned int nchosen = 0;

        for (cpu = nhostcpus - 1; cpu >= 0 && nchosen < nvcpus; cpu--) {
            if (node[cpu] == n && VIR_CPU_USED(online, cpu) && !owner[cpu])
                chosen[nvcpus - ++nchosen] = cpu;
        }
        if (nchosen == nvcpus)
            return 0;
    }
    fail(name, "no NUMA node has %u free host CPUs for the vCPUs; name them with --cpus", nvcpus);
    return -1;
}

/* The child element @name of @parent, created when missing; its old ones go with @fresh. */
static xmlNodePtr
childElement(xmlNodePtr parent, const char *name, bool fresh)
{
    xmlNodePtr node = parent->children;

    while (node) {
        xmlNodePtr next = node->next;

        if (node->type == XML_ELEMENT_NODE && xmlStrEqual(node->name, BAD_CAST name)) {
            if (!fresh)
                return node;
            xmlUnlinkNode(node);
            xmlFreeNode(node);
        }
        node = next;
    }
    return xmlNewChild(parent, NULL, BAD_CAST name, NULL);
}

struct enableOptions {
    const char *mode;
    const char *cpus;
    bool haveSkew;
    unsigned long long skewNs;
};

/*
 * Mark the host CPUs of the other gang domains in @owner (their vCPUs) and
 * @emulatorOwner (their emulator threads), as defined and, for a running
 * one, as it runs.
 */
static int
collectGangCPUs(virDomainPtr *doms, int ndoms, const char *self,
                const char **owner, const char **emulatorOwner)
{
    static int cpus[MAX_CPUS];
    struct gangDef other;
    const char *why;
    int i, j, n, pass;
    unsigned int v;

    for (i = 0; i < ndoms; i++) {
        const char *name = virDomainGetName(doms[i]);

        for (pass = 0; strcmp(name, self) != 0 && pass < 2; pass++) {
            if (pass && virDomainIsActive(doms[i]) != 1)
                break;
            if (gangDefRead(doms[i], pass ? 0 : VIR_DOMAIN_XML_INACTIVE, &other) < 0) {
                gangDefFree(&other);
                /* A domain undefined meanwhile holds no CPUs. */
                if (virGetLastErrorCode() == VIR_ERR_NO_DOMAIN)
                    break;
                return -1;
            }
            for (v = 0; other.mode && v < other.nvcpus; v++) {
                if (other.vcpuCPU[v] >= 0)
                    owner[other.vcpuCPU[v]] = name;
            }
            n = other.mode && other.emulatorpin ? parseCPUList(other.emulatorpin, cpus, &why) : 0;
            for (j = 0; j < n; j++)
                emulatorOwner[cpus[j]] = name;
            gangDefFree(&other);
        }
    }
    return 0;
}

static int
cmdEnable(virConnectPtr conn, virDomainPtr dom, const struct enableOptions *opts)
{
    static const char *owner[MAX_CPUS], *emulatorOwner[MAX_CPUS];
    static int chosen[MAX_CPUS];
    static bool used[MAX_CPUS];
    const char *name = virDomainGetName(dom);
    virDomainPtr *doms = NULL, newdom = NULL;
    unsigned char *online = NULL;
    xmlChar *xml = NULL;
    struct gangDef def;
    xmlNodePtr root, cputune, gang, pin;
    char emulatorpin[4096] = "";
    unsigned int nonline, v;
    size_t len = 0;
    int ret = EXIT_FAILURE;
    int ndoms = 0, nhostcpus, cpu, first, i;
    const char *why;
    char buf[32];

    if (gangDefRead(dom, VIR_DOMAIN_XML_INACTIVE | VIR_DOMAIN_XML_SECURE, &def) < 0)
        goto cleanup;
    if ((nhostcpus = virNodeGetCPUMap(conn, &online, &nonline, 0)) < 0 ||
        (ndoms = virConnectListAllDomains(conn, &doms, 0)) < 0) {
        failVir(NULL, "cannot read the host's CPUs and domains");
        goto cleanup;
    }
    nhostcpus = nhostcpus > MAX_CPUS ? MAX_CPUS : nhostcpus;
    if (collectGangCPUs(doms, ndoms, name, owner, emulatorOwner) < 0)
        goto cleanup;

    if (def.placement && strcmp(def.placement, "auto") == 0) {
        fail(name, "<vcpu placement='auto'> lets numad place the vCPUs; make it static first");
        goto cleanup;
    }
    if (!opts->cpus) {
        if (pickCPUs(conn, name, online, nhostcpus, owner, def.nvcpus, chosen) < 0)
            goto cleanup;
    } else if ((i = parseCPUList(opts->cpus, chosen, &why)) < 0) {
        fail(name, "--cpus '%s' %s", opts->cpus, why);
        goto cleanup;
    } else if ((unsigned int)i != def.nvcpus) {
        fail(name, "--cpus '%s' names %d host CPUs, the domain has %u vCPUs", opts->cpus, i, def.nvcpus);
        goto cleanup;
    }
    for (v = 0; v < def.nvcpus; v++) {
        cpu = chosen[v];
        if (cpu >= nhostcpus || !VIR_CPU_USED(online, cpu)) {
            fail(name, "host CPU %d is not online (the host has %d CPUs)", cpu, nhostcpus);
            goto cleanup;
        }
        if (owner[cpu]) {
            fail(name, "host CPU %d already runs a vCPU of gang domain '%s'", cpu, owner[cpu]);
            goto cleanup;
        }
        used[cpu] = true;
    }
    /* The emulator and I/O threads: every other free CPU, as ranges. */
    for (cpu = 0; cpu < nhostcpus; cpu++) {
        if (!VIR_CPU_USED(online, cpu) || owner[cpu] || used[cpu])
            continue;
        for (first = cpu; cpu + 1 < nhostcpus && VIR_CPU_USED(online, cpu + 1) &&
             !owner[cpu + 1] && !used[cpu + 1]; cpu++)
            ;
        len += snprintf(emulatorpin + len, sizeof(emulatorpin) - len,
                        first < cpu ? "%s%d-%d" : "%s%d", len ? "," : "", first, cpu);
        if (len >= sizeof(emulatorpin)) {
            fail(name, "the emulator threads' CPU list is too long");
            goto cleanup;
        }
    }
    if (!len) {
        fail(name, "no host CPU is left for the emulator threads");
        goto cleanup;
    }

    /* One new definition: nothing changes unless all of it is accepted. */
    root = xmlDocGetRootElement(def.doc);
    cputune = childElement(root, "cputune", false);
    for (v = 0; v < def.nvcpus; v++) {
        pin = v ? xmlNewChild(cputune, NULL, BAD_CAST "vcpupin", NULL) :
                  childElement(cputune, "vcpupin", true);
        snprintf(buf, sizeof(buf), "%u", v);
        xmlNewProp(pin, BAD_CAST "vcpu", BAD_CAST buf);
        snprintf(buf, sizeof(buf), "%d", chosen[v]);
        xmlNewProp(pin, BAD_CAST "cpuset", BAD_CAST buf);
    }
    pin = childElement(cputune, "emulatorpin", true);
    xmlNewProp(pin, BAD_CAST "cpuset", BAD_CAST emulatorpin);
    for (v = 1; v <= def.niothreads; v++) {
        pin = v > 1 ? xmlNewChild(cputune, NULL, BAD_CAST "iothreadpin", NULL) :
                      childElement(cputune, "iothreadpin", true);
        snprintf(buf, sizeof(buf), "%u", v);
        xmlNewProp(pin, BAD_CAST "iothread", BAD_CAST buf);
        xmlNewProp(pin, BAD_CAST "cpuset", BAD_CAST emulatorpin);
    }
    gang = childElement(childElement(childElement(root, "features", false), "kvm", false), "gang", true);
    xmlNewProp(gang, BAD_CAST "state", BAD_CAST "on");
    xmlNewProp(gang, BAD_CAST "mode", BAD_CAST opts->mode);
    snprintf(buf, sizeof(buf), "%llu", opts->skewNs);
    if (opts->haveSkew)
        xmlNewProp(gang, BAD_CAST "skew-ns", BAD_CAST buf);
    xmlDocDumpMemory(def.doc, &xml, &i);
    if (!xml || !(newdom = virDomainDefineXMLFlags(conn, (const char *)xml,
                                                   VIR_DOMAIN_DEFINE_VALIDATE))) {
        failVir(name, "cannot define the new definition");
        goto cleanup;
    }

    printf("Domain '%s': gang %s%s%s%s, vCPU:CPU", name, opts->mode,
           opts->haveSkew ? " (skew-ns " : "", opts->haveSkew ? buf : "", opts->haveSkew ? ")" : "");
    for (v = 0; v < def.nvcpus; v++)
        printf(" %u:%d", v, chosen[v]);
    printf(", emulator threads on %s\n", emulatorpin);
    if (virDomainIsActive(newdom) == 1)
        printf("Domain '%s' is running: the gang takes effect at its next start\n", name);
    /* Another gang's emulator threads would preempt this gang's vCPUs. */
    for (v = 0; v < def.nvcpus; v++) {
        if (emulatorOwner[chosen[v]])
            fprintf(stderr, "gangctl: warning: host CPU %d is in the emulatorpin of gang domain '%s': run 'gangctl enable %s' again to move its emulator threads\n",
                    chosen[v], emulatorOwner[chosen[v]], emulatorOwner[chosen[v]]);
    }
    ret = EXIT_SUCCESS;

 cleanup:
    for (i = 0; doms && i < ndoms; i++)
        virDomainFree(doms[i]);
    free(doms);
    free(online);
    xmlFree(xml);
    if (newdom)
        virDomainFree(newdom);
    gangDefFree(&def);
    return ret;
}

static const char *
stateName(virDomainPtr dom)
{
    static const char *const names[] = {
        "no state", "running", "idle", "paused", "in shutdown", "shut off",
        "crashed", "pmsuspended",
    };
    int state;

    if (virDomainGetState(dom, &state, NULL, 0) < 0 || state < 0 ||
        state >= (int)(sizeof(names) / sizeof(names[0])))
        return "no state";
    return names[state];
}

/* " MODE SKEW 0:CPU 1:CPU ...": the gang and the vCPUs' host CPUs. */
static void
printGang(const struct gangDef *def)
{
    unsigned int v;

    printf(" %-8s %-11s", def->mode ? def->mode : "off", def->skewNs ? def->skewNs : "-");
    for (v = 0; v < def->nvcpus; v++) {
        if (def->vcpuCPU[v] >= 0)
            printf(" %u:%d", v, def->vcpuCPU[v]);
        else
            printf(" %u:%s", v, def->vcpuCPU[v] == UNPINNED ? "-" : "many");
    }
    putchar('\n');
}

static int
cmdStatus(virDomainPtr dom)
{
    int active = virDomainIsActive(dom);
    struct gangDef config, live;
    char problem[512];
    int ret = EXIT_FAILURE;

    memset(&live, 0, sizeof(live));
    if (gangDefRead(dom, VIR_DOMAIN_XML_INACTIVE, &config) == 0 &&
        (active != 1 || gangDefRead(dom, 0, &live) == 0)) {
        printf("%-10s %s\n%-10s %s\n%-10s", "Name:", virDomainGetName(dom),
               "State:", stateName(dom), "Gang:");
        printGang(active == 1 ? &live : &config);
        if (active == 1) {
            printf("%-10s", "Next run:");
            printGang(&config);
        }
        printf("%-10s %s\n", "Emulator:", config.emulatorpin ? config.emulatorpin : "-");
        printf("%-10s %s\n", "Hook:", !config.mode ? "ok: no gang, nothing to check" :
               gangDefPinningOK(&config, problem, sizeof(problem)) ? "ok: the pinning suits a gang" : problem);
        if (active == 1)
            printf("%-10s virsh domstats --vm --vcpu %s\n", "Stats:", virDomainGetName(dom));
        ret = EXIT_SUCCESS;
    }
    gangDefFree(&config);
    gangDefFree(&live);
    return ret;
}

static int
compareDomainNames(const void *a, const void *b)
{
    return strcmp(virDomainGetName(*(virDomainPtr const *)a),
                  virDomainGetName(*(virDomainPtr const *)b));
}

static int
cmdList(virConnectPtr conn)
{
    virDomainPtr *doms = NULL;
    int ret = EXIT_SUCCESS;
    struct gangDef def;
    int ndoms, i;

    if ((ndoms = virConnectListAllDomains(conn, &doms, 0)) < 0) {
        failVir(NULL, "cannot list the domains");
        return EXIT_FAILURE;
    }
    qsort(doms, ndoms, sizeof(*doms), compareDomainNames);
    printf(" %-24s %-10s %-8s %-11s %s\n", "Name", "State", "Mode", "Skew-ns", "vCPU:CPU");
    printf("--------------------------------------------------------------------------\n");
    for (i = 0; i < ndoms; i++) {
        /* What runs for a running domain, else the persistent definition. */
        if (gangDefRead(doms[i], virDomainIsActive(doms[i]) == 1 ? 0 : VIR_DOMAIN_XML_INACTIVE,
                        &def) < 0) {
            ret = EXIT_FAILURE;
        } else if (def.mode) {
            printf(" %-24s %-10s", virDomainGetName(doms[i]), stateName(doms[i]));
            printGang(&def);
        }
        gangDefFree(&def);
        virDomainFree(doms[i]);
    }
    free(doms);
    return ret;
}

static int
usageError(const char *fmt, const char *arg)
{
    fputs("gangctl: ", stderr);
    fprintf(stderr, fmt, arg);
    fputs("\nTry 'gangctl --help'.\n", stderr);
    return EXIT_USAGE;
}

int
main(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "connect", required_argument, NULL, 'c' },
        { "mode", required_argument, NULL, 'm' },
        { "skew-ns", required_argument, NULL, 's' },
        { "cpus", required_argument, NULL, 'C' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    struct enableOptions opts = { .mode = "strict" };
    bool enable, readOnly, haveMode = false;
    virConnectPtr conn = NULL;
    virDomainPtr dom = NULL;
    const char *uri = NULL;
    const char *command;
    unsigned long long skew;
    char *end;
    int ret, c;

    /* glibc's getopt_long() permutes: options may follow the command. */
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":c:m:s:C:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            uri = optarg;
            break;
        case 'm':
            if (strcmp(optarg, "strict") != 0 && strcmp(optarg, "relaxed") != 0)
                return usageError("--mode '%s' is neither strict nor relaxed", optarg);
            opts.mode = optarg;
            haveMode = true;
            break;
        case 's':
            errno = 0;
            skew = strtoull(optarg, &end, 10);
            if (errno || end == optarg || *end || optarg[0] < '0' || optarg[0] > '9' ||
                skew > SKEW_NS_MAX)
                return usageError("--skew-ns '%s' is not a number of nanoseconds from 0 to 1000000000",
                                  optarg);
            opts.skewNs = skew;
            opts.haveSkew = true;
            break;
        case 'C':
            opts.cpus = optarg;
            break;
        case 'h':
            fputs(usageText, stdout);
            return EXIT_SUCCESS;
        case ':':
            return usageError("option '%s' needs an argument", argv[optind - 1]);
        default:
            if (optopt) {
                char opt[3] = { '-', (char)optopt, 0 };

                return usageError("unknown option '%s'", opt);
            }
            return usageError("unknown option '%s'", argv[optind - 1]);
        }
    }

    if (optind >= argc)
        return usageError("no command given%s", "");
    command = argv[optind];
    enable = strcmp(command, "enable") == 0;
    readOnly = strcmp(command, "status") == 0 || strcmp(command, "list") == 0;
    if (strcmp(command, "list") == 0) {
        if (argc - optind != 1)
            return usageError("list takes no arguments%s", "");
    } else if (enable || readOnly || strcmp(command, "check") == 0) {
        if (argc - optind != 2)
            return usageError("%s takes one DOMAIN", command);
    } else {
        return usageError("unknown command '%s'", command);
    }
    if (!enable && (haveMode || opts.haveSkew || opts.cpus))
        return usageError("--mode, --skew-ns and --cpus belong to enable%s", "");
    if (opts.haveSkew && strcmp(opts.mode, "relaxed") != 0)
        return usageError("--skew-ns needs --mode relaxed (strict mode has no skew threshold)%s", "");
    if (strcmp(command, "check") == 0)
        return cmdCheck(argv[optind + 1]);

    virSetErrorFunc(NULL, silentErrorFunc);
    /* Reading needs no more than libvirt's read-only socket. */
    if (virInitialize() < 0 ||
        !(conn = readOnly ? virConnectOpenReadOnly(uri) : virConnectOpen(uri))) {
        fail(NULL, "cannot connect to %s: %s", uri ? uri : "libvirt's default URI",
             virGetLastErrorMessage());
        return EXIT_FAILURE;
    }
    if (strcmp(command, "list") == 0) {
        ret = cmdList(conn);
    } else if (!(dom = virDomainLookupByName(conn, argv[optind + 1]))) {
        failVir(argv[optind + 1], "cannot find the domain");
        ret = EXIT_FAILURE;
    } else if (readOnly) {
        ret = cmdStatus(dom);
    } else if (virDomainIsPersistent(dom) != 1) {
        fail(argv[optind + 1], "is transient; gangctl edits persistent definitions only");
        ret = EXIT_FAILURE;
    } else {
        ret = cmdEnable(conn, dom, &opts);
    }
    if (fflush(stdout) != 0) {
        fail(NULL, "writing the output: %s", strerror(errno));
        ret = EXIT_FAILURE;
    }
    if (dom)
        virDomainFree(dom);
    virConnectClose(conn);
    return ret;
}
