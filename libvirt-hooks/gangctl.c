/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * gangctl: turn KVM gang scheduling on and off for libvirt domains and show
 * its state.  "enable" edits the persistent domain definition the way the
 * kvm-gang qemu hook wants it (the gang metadata element, every vCPU pinned
 * to a host CPU of its own, the emulator threads pinned off those CPUs,
 * gang-qemu-wrapper as the emulator); "status" adds, for a running domain,
 * the gang statistics that QEMU's query-stats reports.  docs/gangctl.1 is
 * the manual; the usage text below matches it.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <libvirt/libvirt.h>
#include <libvirt/libvirt-qemu.h>
#include <libvirt/virterror.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>

#ifndef GANG_WRAPPER
# define GANG_WRAPPER "/usr/local/libexec/kvm-gang/gang-qemu-wrapper"
#endif

#define GANG_NS_URI "https://kvm-gang.example/xmlns/gang/1"
#define GANG_NS_PREFIX "gang"
#define GANG_SKEW_NS_MAX 1000000000ULL
/* Host CPU numbers gangctl handles, as libvirt's own cpuset limit. */
#define GANG_MAX_CPUS 16384
#define EXIT_USAGE 2

#define VCPU_UNPINNED (-1)
#define VCPU_MULTI (-2)

struct gangOptions {
    const char *uri;
    const char *mode;
    const char *cpus;
    unsigned long long skewNs;
    bool haveSkew;
};

/* The gang-relevant parts of a domain definition. */
struct gangDef {
    char *type;
    char *placement;
    char *emulator;
    char *emulatorpin;      /* NULL without <emulatorpin> */
    char **vcpupin;         /* per vCPU: its cpuset, NULL when unpinned */
    int *vcpuCPU;           /* per vCPU: the host CPU, VCPU_UNPINNED or VCPU_MULTI */
    unsigned int nvcpus;
};

/* The gang metadata element. */
struct gangMeta {
    char *mode;
    char *skewNs;           /* NULL without the attribute */
};

static const char *usageText =
"usage: gangctl [--connect URI] COMMAND [ARGS]\n"
"\n"
"Gang scheduling (kvm-gang) for libvirt KVM domains.\n"
"\n"
"Commands:\n"
"  enable DOMAIN [--mode strict|relaxed] [--skew-ns N] [--cpus LIST]\n"
"        write the gang element into DOMAIN's persistent definition, pin\n"
"        its vCPUs 1:1 to host CPUs, pin its emulator threads to the other\n"
"        host CPUs and make gang-qemu-wrapper its emulator\n"
"  disable DOMAIN\n"
"        remove the gang element (pinning and emulator stay)\n"
"  status DOMAIN\n"
"        show the gang mode, the pinning, the hook's verdict and, for a\n"
"        running domain, the gang statistics from QEMU's query-stats\n"
"  list\n"
"        list the domains that have the gang element\n"
"\n"
"Options:\n"
"  -c, --connect URI   connect to URI instead of libvirt's default\n"
"  -m, --mode MODE     strict (the default) or relaxed\n"
"  -s, --skew-ns N     relaxed mode's threshold in ns, 0 to 1000000000\n"
"                      (0: the kernel's default)\n"
"  -C, --cpus LIST     host CPUs for vCPU 0, 1, ... in this order,\n"
"                      e.g. 2,3 or 2-3 (default: keep a valid pinning,\n"
"                      else pick free host CPUs from the highest down)\n"
"  -h, --help          show this help and exit\n"
"\n"
"Exit status: 0 success, 1 failure, 2 usage error.\n";

static void usageError(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
static void domError(const char *name, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
usageError(const char *fmt, ...)
{
    va_list ap;

    fputs("gangctl: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\nTry 'gangctl --help'.\n", stderr);
}

static void
domError(const char *name, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "gangctl: domain '%s': ", name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* A failed libvirt call: what failed, then libvirt's message. */
static void
domVirError(const char *name, const char *what)
{
    if (name)
        fprintf(stderr, "gangctl: domain '%s': %s: %s\n",
                name, what, virGetLastErrorMessage());
    else
        fprintf(stderr, "gangctl: %s: %s\n", what, virGetLastErrorMessage());
}

/* libvirt prints every error to stderr by default; gangctl reports its own. */
static void
silentErrorFunc(void *opaque __attribute__((unused)),
                virErrorPtr err __attribute__((unused)))
{
}

static const char *
stateName(int state)
{
    switch (state) {
    case VIR_DOMAIN_RUNNING:
        return "running";
    case VIR_DOMAIN_BLOCKED:
        return "idle";
    case VIR_DOMAIN_PAUSED:
        return "paused";
    case VIR_DOMAIN_SHUTDOWN:
        return "in shutdown";
    case VIR_DOMAIN_SHUTOFF:
        return "shut off";
    case VIR_DOMAIN_CRASHED:
        return "crashed";
    case VIR_DOMAIN_PMSUSPENDED:
        return "pmsuspended";
    }
    return "no state";
}

/*
 * Parse a libvirt CPU list ("0,2-3,^2") into @cpus in the order given,
 * exclusions applied.  Returns the number of CPUs, or -1 with @why set.
 */
static int
parseCPUList(const char *list, int *cpus, const char **why)
{
    bool *seen = NULL;
    const char *p = list;
    int ncpus = 0;
    int ret = -1;
    int i, j;

    if (!(seen = calloc(GANG_MAX_CPUS, sizeof(*seen)))) {
        *why = "out of memory";
        return -1;
    }
    *why = "not a CPU list such as 2,3 or 2-3";

    while (*p) {
        bool exclude = false;
        unsigned long first, last;
        char *end;

        if (*p == '^') {
            exclude = true;
            p++;
        }
        if (*p < '0' || *p > '9')
            goto cleanup;
        errno = 0;
        first = last = strtoul(p, &end, 10);
        p = end;
        if (*p == '-' && !exclude) {
            p++;
            if (*p < '0' || *p > '9')
                goto cleanup;
            last = strtoul(p, &end, 10);
            p = end;
        }
        if (errno || first > last)
            goto cleanup;
        if (last >= GANG_MAX_CPUS) {
            *why = "has a CPU number beyond libvirt's limit";
            goto cleanup;
        }
        if (*p == ',')
            p++;
        else if (*p)
            goto cleanup;

        if (exclude) {
            if (!seen[first])
                continue;
            seen[first] = false;
            for (i = 0, j = 0; i < ncpus; i++) {
                if (cpus[i] != (int)first)
                    cpus[j++] = cpus[i];
            }
            ncpus = j;
            continue;
        }
        for (i = first; i <= (int)last; i++) {
            if (seen[i]) {
                *why = "names a host CPU twice";
                goto cleanup;
            }
            seen[i] = true;
            cpus[ncpus++] = i;
        }
    }
    if (ncpus == 0) {
        *why = "names no host CPU";
        goto cleanup;
    }
    ret = ncpus;

 cleanup:
    free(seen);
    return ret;
}

/* Format the set @set (GANG_MAX_CPUS entries) as "0-1,4"; NULL when empty. */
static char *
formatCPUSet(const bool *set)
{
    char *buf = NULL;
    size_t size = 0;
    FILE *out;
    bool first = true;
    int i, j;

    if (!(out = open_memstream(&buf, &size)))
        return NULL;
    for (i = 0; i < GANG_MAX_CPUS; i++) {
        if (!set[i])
            continue;
        for (j = i; j + 1 < GANG_MAX_CPUS && set[j + 1]; j++)
            ;
        fprintf(out, "%s%d", first ? "" : ",", i);
        if (j > i)
            fprintf(out, "-%d", j);
        first = false;
        i = j;
    }
    fclose(out);
    if (first) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* The string value of @expr, malloc'ed; "" when there is none. */
static char *
xpathString(xmlXPathContextPtr ctxt, const char *expr)
{
    xmlXPathObjectPtr obj;
    char *ret;

    if (!(obj = xmlXPathEvalExpression(BAD_CAST expr, ctxt)))
        return strdup("");
    if (obj->type != XPATH_STRING || !obj->stringval) {
        xmlXPathFreeObject(obj);
        return strdup("");
    }
    ret = strdup((const char *)obj->stringval);
    xmlXPathFreeObject(obj);
    return ret;
}

static xmlNodePtr
xpathNode(xmlXPathContextPtr ctxt, const char *expr)
{
    xmlXPathObjectPtr obj;
    xmlNodePtr ret = NULL;

    if (!(obj = xmlXPathEvalExpression(BAD_CAST expr, ctxt)))
        return NULL;
    if (obj->type == XPATH_NODESET && obj->nodesetval &&
        obj->nodesetval->nodeNr > 0)
        ret = obj->nodesetval->nodeTab[0];
    xmlXPathFreeObject(obj);
    return ret;
}

static void
gangDefFree(struct gangDef *def)
{
    unsigned int i;

    free(def->type);
    free(def->placement);
    free(def->emulator);
    free(def->emulatorpin);
    for (i = 0; def->vcpupin && i < def->nvcpus; i++)
        free(def->vcpupin[i]);
    free(def->vcpupin);
    free(def->vcpuCPU);
    memset(def, 0, sizeof(*def));
}

/* Read the gang-relevant parts of the domain XML in @ctxt into @def. */
static int
gangDefRead(xmlXPathContextPtr ctxt, struct gangDef *def)
{
    char expr[128];
    char *nvcpus = NULL;
    char *end;
    unsigned int i;
    int ret = -1;
    int *cpus = NULL;
    const char *why;

    memset(def, 0, sizeof(*def));
    def->type = xpathString(ctxt, "string(/domain/@type)");
    def->placement = xpathString(ctxt, "string(/domain/vcpu/@placement)");
    def->emulator = xpathString(ctxt, "string(/domain/devices/emulator)");
    nvcpus = xpathString(ctxt, "string(/domain/vcpu)");
    if (!def->type || !def->placement || !def->emulator || !nvcpus)
        goto cleanup;
    if (xpathNode(ctxt, "/domain/cputune/emulatorpin") &&
        !(def->emulatorpin = xpathString(ctxt, "string(/domain/cputune/emulatorpin/@cpuset)")))
        goto cleanup;

    errno = 0;
    def->nvcpus = strtoul(nvcpus, &end, 10);
    if (errno || end == nvcpus || *end || def->nvcpus == 0 ||
        def->nvcpus > GANG_MAX_CPUS)
        goto cleanup;
    if (!(def->vcpupin = calloc(def->nvcpus, sizeof(*def->vcpupin))) ||
        !(def->vcpuCPU = calloc(def->nvcpus, sizeof(*def->vcpuCPU))) ||
        !(cpus = calloc(GANG_MAX_CPUS, sizeof(*cpus))))
        goto cleanup;

    for (i = 0; i < def->nvcpus; i++) {
        def->vcpuCPU[i] = VCPU_UNPINNED;
        snprintf(expr, sizeof(expr), "/domain/cputune/vcpupin[@vcpu='%u']", i);
        if (!xpathNode(ctxt, expr))
            continue;
        snprintf(expr, sizeof(expr),
                 "string(/domain/cputune/vcpupin[@vcpu='%u']/@cpuset)", i);
        if (!(def->vcpupin[i] = xpathString(ctxt, expr)))
            goto cleanup;
        if (parseCPUList(def->vcpupin[i], cpus, &why) == 1)
            def->vcpuCPU[i] = cpus[0];
        else
            def->vcpuCPU[i] = VCPU_MULTI;
    }
    ret = 0;

 cleanup:
    free(nvcpus);
    free(cpus);
    return ret;
}

/*
 * Parse the domain XML @xml into @doc and @ctxt (the caller frees both,
 * also on failure) and read its gang-relevant parts into @def.
 */
static int
gangDefParse(const char *xml, xmlDocPtr *doc, xmlXPathContextPtr *ctxt,
             struct gangDef *def)
{
    if (!(*doc = xmlReadMemory(xml, strlen(xml), "domain.xml", NULL,
                               XML_PARSE_NONET)))
        return -1;
    if (!(*ctxt = xmlXPathNewContext(*doc)))
        return -1;
    return gangDefRead(*ctxt, def);
}

/*
 * The first problem the kvm-gang hook would veto in @def, apart from the
 * host capability, written into @buf; false when there is none.  The
 * wording follows the hook's.
 */
static bool
gangDefProblem(const struct gangDef *def, char *buf, size_t size)
{
    bool *vcpuCPUs = NULL;
    int *owner = NULL;
    int *cpus = NULL;
    const char *why;
    unsigned int i;
    bool problem = true;
    int ncpus;
    int j;

    if (strcmp(def->type, "kvm") != 0) {
        snprintf(buf, size, "domain type is '%s', gang scheduling needs type='kvm'",
                 def->type);
        return true;
    }
    if (strcmp(def->placement, "auto") == 0) {
        snprintf(buf, size, "<vcpu placement='auto'> lets numad place the vCPUs");
        return true;
    }
    if (!(owner = malloc(GANG_MAX_CPUS * sizeof(*owner))) ||
        !(vcpuCPUs = calloc(GANG_MAX_CPUS, sizeof(*vcpuCPUs))) ||
        !(cpus = calloc(GANG_MAX_CPUS, sizeof(*cpus)))) {
        snprintf(buf, size, "out of memory");
        goto cleanup;
    }
    for (i = 0; i < GANG_MAX_CPUS; i++)
        owner[i] = -1;

    for (i = 0; i < def->nvcpus; i++) {
        int cpu = def->vcpuCPU[i];

        if (cpu == VCPU_UNPINNED) {
            snprintf(buf, size, "vCPU %u is not pinned", i);
            goto cleanup;
        }
        if (cpu == VCPU_MULTI) {
            snprintf(buf, size, "vCPU %u is pinned to host CPUs '%s', not to exactly one host CPU",
                     i, def->vcpupin[i]);
            goto cleanup;
        }
        if (owner[cpu] >= 0) {
            snprintf(buf, size, "vCPUs %d and %u are both pinned to host CPU %d",
                     owner[cpu], i, cpu);
            goto cleanup;
        }
        owner[cpu] = i;
        vcpuCPUs[cpu] = true;
    }
    if (!def->emulatorpin || !*def->emulatorpin) {
        snprintf(buf, size, "emulator threads are not pinned");
        goto cleanup;
    }
    if ((ncpus = parseCPUList(def->emulatorpin, cpus, &why)) < 0) {
        snprintf(buf, size, "emulatorpin '%s' %s", def->emulatorpin, why);
        goto cleanup;
    }
    for (j = 0; j < ncpus; j++) {
        if (vcpuCPUs[cpus[j]]) {
            snprintf(buf, size, "emulator threads are pinned to host CPU %d (emulatorpin '%s'), which vCPU %d uses",
                     cpus[j], def->emulatorpin, owner[cpus[j]]);
            goto cleanup;
        }
    }
    if (strcmp(def->emulator, GANG_WRAPPER) != 0) {
        snprintf(buf, size, "emulator is '%s', not %s: QEMU would start without the gang",
                 def->emulator, GANG_WRAPPER);
        goto cleanup;
    }
    problem = false;

 cleanup:
    free(owner);
    free(vcpuCPUs);
    free(cpus);
    return problem;
}

/*
 * The gang element of @dom's config (@flags VIR_DOMAIN_AFFECT_CONFIG) or
 * live definition (VIR_DOMAIN_AFFECT_LIVE).  Returns 1 and fills @meta when
 * the element is there, 0 when not, -1 on a libvirt error (reported).
 */
static int
gangMetaGet(virDomainPtr dom, const char *name, unsigned int flags,
            struct gangMeta *meta)
{
    xmlDocPtr doc = NULL;
    xmlNodePtr root;
    xmlChar *attr;
    char *xml;
    int ret = -1;

    memset(meta, 0, sizeof(*meta));
    if (!(xml = virDomainGetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT,
                                     GANG_NS_URI, flags))) {
        if (virGetLastErrorCode() == VIR_ERR_NO_DOMAIN_METADATA) {
            virResetLastError();
            return 0;
        }
        domVirError(name, "cannot read the gang metadata");
        return -1;
    }
    if (!(doc = xmlReadMemory(xml, strlen(xml), "metadata.xml", NULL,
                              XML_PARSE_NONET | XML_PARSE_NOERROR |
                              XML_PARSE_NOWARNING)) ||
        !(root = xmlDocGetRootElement(doc))) {
        domError(name, "cannot parse the gang metadata '%s'", xml);
        goto cleanup;
    }
    if ((attr = xmlGetProp(root, BAD_CAST "mode"))) {
        meta->mode = strdup((const char *)attr);
        xmlFree(attr);
    } else {
        meta->mode = strdup("strict");
    }
    if ((attr = xmlGetProp(root, BAD_CAST "skew-ns"))) {
        meta->skewNs = strdup((const char *)attr);
        xmlFree(attr);
    }
    ret = 1;

 cleanup:
    xmlFreeDoc(doc);
    free(xml);
    return ret;
}

static void
gangMetaFree(struct gangMeta *meta)
{
    free(meta->mode);
    free(meta->skewNs);
    memset(meta, 0, sizeof(*meta));
}

static void
gangMetaPrint(const char *label, const struct gangMeta *meta, int present)
{
    if (present <= 0)
        printf("%-18s off\n", label);
    else if (meta->skewNs)
        printf("%-18s %s (skew-ns %s)\n", label, meta->mode, meta->skewNs);
    else
        printf("%-18s %s\n", label, meta->mode);
}

static virDomainPtr
lookupDomain(virConnectPtr conn, const char *name)
{
    virDomainPtr dom;

    if ((dom = virDomainLookupByName(conn, name)))
        return dom;
    if (strlen(name) == VIR_UUID_STRING_BUFLEN - 1 &&
        virGetLastErrorCode() == VIR_ERR_NO_DOMAIN &&
        (dom = virDomainLookupByUUIDString(conn, name)))
        return dom;
    domVirError(name, "cannot find the domain");
    return NULL;
}

/*
 * Mark in @owner (GANG_MAX_CPUS names, NULL = free) the host CPUs that the
 * vCPUs of every other gang domain are pinned to.
 */
static int
collectGangCPUs(virConnectPtr conn, virDomainPtr self, char **owner)
{
    unsigned char selfUUID[VIR_UUID_BUFLEN];
    unsigned char uuid[VIR_UUID_BUFLEN];
    virDomainPtr *doms = NULL;
    int ndoms;
    int ret = -1;
    int i;

    if (virDomainGetUUID(self, selfUUID) < 0) {
        domVirError(virDomainGetName(self), "cannot read the UUID");
        return -1;
    }
    if ((ndoms = virConnectListAllDomains(conn, &doms, 0)) < 0) {
        domVirError(NULL, "cannot list the domains");
        return -1;
    }
    for (i = 0; i < ndoms; i++) {
        const char *name = virDomainGetName(doms[i]);
        xmlXPathContextPtr ctxt = NULL;
        xmlDocPtr doc = NULL;
        struct gangMeta meta;
        struct gangDef def;
        unsigned int v;
        char *xml = NULL;
        bool oom = false;
        int present;

        if (virDomainGetUUID(doms[i], uuid) < 0 ||
            memcmp(uuid, selfUUID, sizeof(uuid)) == 0)
            continue;
        if ((present = gangMetaGet(doms[i], name, VIR_DOMAIN_AFFECT_CONFIG,
                                   &meta)) < 0)
            goto cleanup;
        gangMetaFree(&meta);
        if (!present)
            continue;
        if (!(xml = virDomainGetXMLDesc(doms[i], VIR_DOMAIN_XML_INACTIVE))) {
            domVirError(name, "cannot read the definition");
            goto cleanup;
        }
        memset(&def, 0, sizeof(def));
        if (gangDefParse(xml, &doc, &ctxt, &def) == 0) {
            for (v = 0; v < def.nvcpus; v++) {
                if (def.vcpuCPU[v] >= 0 && !owner[def.vcpuCPU[v]] &&
                    !(owner[def.vcpuCPU[v]] = strdup(name))) {
                    oom = true;
                    break;
                }
            }
        }
        gangDefFree(&def);
        xmlXPathFreeContext(ctxt);
        xmlFreeDoc(doc);
        free(xml);
        if (oom) {
            domError(name, "out of memory");
            goto cleanup;
        }
    }
    ret = 0;

 cleanup:
    for (i = 0; i < ndoms; i++)
        virDomainFree(doms[i]);
    free(doms);
    return ret;
}

/* Replace the children of @parent named @name with nothing. */
static void
removeChildren(xmlNodePtr parent, const char *name)
{
    xmlNodePtr node = parent->children;

    while (node) {
        xmlNodePtr next = node->next;

        if (node->type == XML_ELEMENT_NODE &&
            xmlStrEqual(node->name, BAD_CAST name)) {
            xmlUnlinkNode(node);
            xmlFreeNode(node);
        }
        node = next;
    }
}

/* The child element @name of @parent, created when missing. */
static xmlNodePtr
childElement(xmlNodePtr parent, const char *name)
{
    xmlNodePtr node;

    for (node = parent->children; node; node = node->next) {
        if (node->type == XML_ELEMENT_NODE &&
            xmlStrEqual(node->name, BAD_CAST name))
            return node;
    }
    return xmlNewChild(parent, NULL, BAD_CAST name, NULL);
}

static int
cmdEnable(virConnectPtr conn, const char *name, const struct gangOptions *opts)
{
    const char *mode = opts->mode ? opts->mode : "strict";
    xmlXPathContextPtr ctxt = NULL;
    virDomainPtr newdom = NULL;
    virDomainPtr dom = NULL;
    unsigned char *cpumap = NULL;
    unsigned int online = 0;
    xmlDocPtr doc = NULL;
    xmlChar *newxml = NULL;
    struct gangDef def = { 0 };
    char **owner = NULL;
    bool *emulatorSet = NULL;
    bool *chosenSet = NULL;
    char *emulatorpin = NULL;
    char *xml = NULL;
    char metadata[128];
    int *chosen = NULL;
    int nhostcpus;
    int newxmllen;
    int ret = EXIT_FAILURE;
    int nchosen = 0;
    int nfree = 0;
    unsigned int v;
    int cpu;

    if (!(dom = lookupDomain(conn, name)))
        goto cleanup;
    if (virDomainIsPersistent(dom) != 1) {
        domError(name, "is transient; gangctl edits persistent definitions only");
        goto cleanup;
    }
    if (!(xml = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_INACTIVE |
                                         VIR_DOMAIN_XML_SECURE))) {
        domVirError(name, "cannot read the definition");
        goto cleanup;
    }
    if (gangDefParse(xml, &doc, &ctxt, &def) < 0) {
        domError(name, "cannot parse the domain definition");
        goto cleanup;
    }
    if (strcmp(def.type, "kvm") != 0) {
        domError(name, "domain type is '%s', gang scheduling needs type='kvm'",
                 def.type);
        goto cleanup;
    }
    if (strcmp(def.placement, "auto") == 0) {
        domError(name, "<vcpu placement='auto'> lets numad place the vCPUs; make it static first");
        goto cleanup;
    }

    if ((nhostcpus = virNodeGetCPUMap(conn, &cpumap, &online, 0)) < 0) {
        domVirError(NULL, "cannot read the host's online CPUs");
        goto cleanup;
    }
    if (nhostcpus > GANG_MAX_CPUS)
        nhostcpus = GANG_MAX_CPUS;
    if (!(owner = calloc(GANG_MAX_CPUS, sizeof(*owner))) ||
        !(chosen = calloc(GANG_MAX_CPUS, sizeof(*chosen))) ||
        !(chosenSet = calloc(GANG_MAX_CPUS, sizeof(*chosenSet))) ||
        !(emulatorSet = calloc(GANG_MAX_CPUS, sizeof(*emulatorSet)))) {
        domError(name, "out of memory");
        goto cleanup;
    }
    if (collectGangCPUs(conn, dom, owner) < 0)
        goto cleanup;
    for (cpu = 0; cpu < nhostcpus; cpu++) {
        if (VIR_CPU_USED(cpumap, cpu) && !owner[cpu])
            nfree++;
    }

    if (opts->cpus) {
        const char *why;
        int i;

        if ((nchosen = parseCPUList(opts->cpus, chosen, &why)) < 0) {
            domError(name, "--cpus '%s' %s", opts->cpus, why);
            goto cleanup;
        }
        if ((unsigned int)nchosen != def.nvcpus) {
            domError(name, "--cpus '%s' names %d host CPUs, the domain has %u vCPUs",
                     opts->cpus, nchosen, def.nvcpus);
            goto cleanup;
        }
        for (i = 0; i < nchosen; i++) {
            cpu = chosen[i];
            if (cpu >= nhostcpus || !VIR_CPU_USED(cpumap, cpu)) {
                domError(name, "host CPU %d is not online (the host has %d CPUs)",
                         cpu, nhostcpus);
                goto cleanup;
            }
            if (owner[cpu]) {
                domError(name, "host CPU %d already runs a vCPU of gang domain '%s'",
                         cpu, owner[cpu]);
                goto cleanup;
            }
        }
    } else {
        /* Keep a pinning that already suits the gang. */
        bool keep = true;

        for (v = 0; v < def.nvcpus && keep; v++) {
            cpu = def.vcpuCPU[v];
            if (cpu < 0 || cpu >= nhostcpus || !VIR_CPU_USED(cpumap, cpu) ||
                owner[cpu] || chosenSet[cpu])
                keep = false;
            else
                chosenSet[cpu] = true;
        }
        if (keep && (unsigned int)nfree > def.nvcpus) {
            for (v = 0; v < def.nvcpus; v++)
                chosen[nchosen++] = def.vcpuCPU[v];
        } else {
            if ((unsigned int)nfree < def.nvcpus + 1) {
                domError(name, "%u vCPUs and the emulator threads need %u host CPUs, %d of the host's %d CPUs are online and free of other gangs",
                         def.nvcpus, def.nvcpus + 1, nfree, nhostcpus);
                goto cleanup;
            }
            /* The highest free CPUs, ascending, leave CPU 0 to the host. */
            for (cpu = nhostcpus - 1; cpu >= 0 && (unsigned int)nchosen < def.nvcpus; cpu--) {
                if (VIR_CPU_USED(cpumap, cpu) && !owner[cpu])
                    nchosen++;
            }
            nchosen = 0;
            for (cpu++; cpu < nhostcpus; cpu++) {
                if (VIR_CPU_USED(cpumap, cpu) && !owner[cpu])
                    chosen[nchosen++] = cpu;
            }
        }
    }

    memset(chosenSet, 0, GANG_MAX_CPUS * sizeof(*chosenSet));
    for (v = 0; v < def.nvcpus; v++)
        chosenSet[chosen[v]] = true;
    for (cpu = 0; cpu < nhostcpus; cpu++) {
        if (VIR_CPU_USED(cpumap, cpu) && !owner[cpu] && !chosenSet[cpu])
            emulatorSet[cpu] = true;
    }
    if (!(emulatorpin = formatCPUSet(emulatorSet))) {
        domError(name, "no host CPU is left for the emulator threads");
        goto cleanup;
    }

    /* The new definition: pinning and emulator. */
    {
        xmlNodePtr root = xmlDocGetRootElement(doc);
        xmlNodePtr cputune = childElement(root, "cputune");
        xmlNodePtr devices = childElement(root, "devices");
        xmlNodePtr emulator;
        xmlNodePtr node;
        char buf[32];

        if (!cputune || !devices || !(emulator = childElement(devices, "emulator"))) {
            domError(name, "out of memory");
            goto cleanup;
        }
        removeChildren(cputune, "vcpupin");
        removeChildren(cputune, "emulatorpin");
        for (v = 0; v < def.nvcpus; v++) {
            if (!(node = xmlNewChild(cputune, NULL, BAD_CAST "vcpupin", NULL))) {
                domError(name, "out of memory");
                goto cleanup;
            }
            snprintf(buf, sizeof(buf), "%u", v);
            xmlNewProp(node, BAD_CAST "vcpu", BAD_CAST buf);
            snprintf(buf, sizeof(buf), "%d", chosen[v]);
            xmlNewProp(node, BAD_CAST "cpuset", BAD_CAST buf);
        }
        if (!(node = xmlNewChild(cputune, NULL, BAD_CAST "emulatorpin", NULL))) {
            domError(name, "out of memory");
            goto cleanup;
        }
        xmlNewProp(node, BAD_CAST "cpuset", BAD_CAST emulatorpin);
        xmlNodeSetContent(emulator, BAD_CAST GANG_WRAPPER);
    }
    xmlDocDumpMemory(doc, &newxml, &newxmllen);
    if (!newxml) {
        domError(name, "out of memory");
        goto cleanup;
    }
    if (!(newdom = virDomainDefineXMLFlags(conn, (const char *)newxml,
                                           VIR_DOMAIN_DEFINE_VALIDATE))) {
        domVirError(name, "cannot redefine the domain with the gang's pinning");
        goto cleanup;
    }

    if (opts->haveSkew)
        snprintf(metadata, sizeof(metadata), "<gang mode='%s' skew-ns='%llu'/>",
                 mode, opts->skewNs);
    else
        snprintf(metadata, sizeof(metadata), "<gang mode='%s'/>", mode);
    if (virDomainSetMetadata(newdom, VIR_DOMAIN_METADATA_ELEMENT, metadata,
                             GANG_NS_PREFIX, GANG_NS_URI,
                             VIR_DOMAIN_AFFECT_CONFIG) < 0) {
        domVirError(name, "cannot write the gang metadata");
        goto cleanup;
    }

    printf("Domain '%s': gang %s", name, mode);
    if (opts->haveSkew)
        printf(" (skew-ns %llu)", opts->skewNs);
    printf(", vCPU:CPU");
    for (v = 0; v < def.nvcpus; v++)
        printf(" %u:%d", v, chosen[v]);
    printf(", emulator threads on %s, emulator %s\n", emulatorpin, GANG_WRAPPER);
    if (virDomainIsActive(newdom) == 1)
        printf("Domain '%s' is running: the gang takes effect at its next start\n",
               name);
    ret = EXIT_SUCCESS;

 cleanup:
    if (owner) {
        for (cpu = 0; cpu < GANG_MAX_CPUS; cpu++)
            free(owner[cpu]);
        free(owner);
    }
    free(chosen);
    free(chosenSet);
    free(emulatorSet);
    free(emulatorpin);
    free(cpumap);
    xmlFree(newxml);
    gangDefFree(&def);
    xmlXPathFreeContext(ctxt);
    xmlFreeDoc(doc);
    free(xml);
    if (newdom)
        virDomainFree(newdom);
    if (dom)
        virDomainFree(dom);
    return ret;
}

static int
cmdDisable(virConnectPtr conn, const char *name)
{
    virDomainPtr dom = NULL;
    struct gangMeta meta;
    int ret = EXIT_FAILURE;
    int present;

    if (!(dom = lookupDomain(conn, name)))
        goto cleanup;
    if (virDomainIsPersistent(dom) != 1) {
        domError(name, "is transient; gangctl edits persistent definitions only");
        goto cleanup;
    }
    if ((present = gangMetaGet(dom, name, VIR_DOMAIN_AFFECT_CONFIG, &meta)) < 0)
        goto cleanup;
    gangMetaFree(&meta);
    if (!present) {
        printf("Domain '%s': gang already off\n", name);
        ret = EXIT_SUCCESS;
        goto cleanup;
    }
    if (virDomainSetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, NULL,
                             GANG_NS_PREFIX, GANG_NS_URI,
                             VIR_DOMAIN_AFFECT_CONFIG) < 0) {
        domVirError(name, "cannot remove the gang metadata");
        goto cleanup;
    }
    printf("Domain '%s': gang off (pinning and emulator unchanged)\n", name);
    if (virDomainIsActive(dom) == 1)
        printf("Domain '%s' is running: the change takes effect at its next start\n",
               name);
    ret = EXIT_SUCCESS;

 cleanup:
    if (dom)
        virDomainFree(dom);
    return ret;
}

/* Print the stats of one query-stats reply entry. */
static int
printStatsEntry(json_object *entry, const char *label)
{
    json_object *stats;
    json_object *qom;
    size_t i, n;
    int printed = 0;

    if (!json_object_object_get_ex(entry, "stats", &stats) ||
        !json_object_is_type(stats, json_type_array))
        return 0;
    n = json_object_array_length(stats);
    for (i = 0; i < n; i++) {
        json_object *stat = json_object_array_get_idx(stats, i);
        json_object *statName;
        json_object *value;

        if (!json_object_object_get_ex(stat, "name", &statName) ||
            !json_object_object_get_ex(stat, "value", &value))
            continue;
        if (printed++ == 0) {
            if (json_object_object_get_ex(entry, "qom-path", &qom))
                printf("  %s %s:", label, json_object_get_string(qom));
            else
                printf("  %s:", label);
        }
        printf(" %s %s", json_object_get_string(statName),
               json_object_to_json_string_ext(value, JSON_C_TO_STRING_PLAIN));
    }
    if (printed)
        putchar('\n');
    return printed;
}

/* Print the gang stats of the running @dom; -1 when QEMU did not answer. */
static int
printGangStats(virDomainPtr dom, const char *name)
{
    static const char *const queries[][2] = {
        { "vm", "{\"execute\":\"query-stats\",\"arguments\":{\"target\":\"vm\","
                "\"providers\":[{\"provider\":\"kvm\",\"names\":"
                "[\"gang_costops\",\"gang_stopped_ns\"]}]}}" },
        { "vcpu", "{\"execute\":\"query-stats\",\"arguments\":{\"target\":\"vcpu\","
                  "\"providers\":[{\"provider\":\"kvm\",\"names\":"
                  "[\"gang_forced_exits\",\"gang_waits\",\"gang_wait_ns\"]}]}}" },
    };
    json_object *reply = NULL;
    json_object *entries;
    json_object *error;
    char *result = NULL;
    size_t q, i, n;
    int printed = 0;
    int ret = -1;

    printf("Gang statistics (QEMU query-stats, provider kvm):\n");
    for (q = 0; q < sizeof(queries) / sizeof(queries[0]); q++) {
        if (virDomainQemuMonitorCommand(dom, queries[q][1], &result, 0) < 0) {
            domVirError(name, "query-stats failed");
            goto cleanup;
        }
        if (!(reply = json_tokener_parse(result))) {
            domError(name, "query-stats answered '%s', not JSON", result);
            goto cleanup;
        }
        if (json_object_object_get_ex(reply, "error", &error)) {
            json_object *desc = NULL;

            json_object_object_get_ex(error, "desc", &desc);
            domError(name, "query-stats: %s",
                     desc ? json_object_get_string(desc) : result);
            goto cleanup;
        }
        if (json_object_object_get_ex(reply, "return", &entries) &&
            json_object_is_type(entries, json_type_array)) {
            n = json_object_array_length(entries);
            for (i = 0; i < n; i++)
                printed += printStatsEntry(json_object_array_get_idx(entries, i),
                                           queries[q][0]);
        }
        json_object_put(reply);
        reply = NULL;
        free(result);
        result = NULL;
    }
    if (!printed)
        printf("  none: the host kernel reports no gang statistics\n");
    ret = 0;

 cleanup:
    json_object_put(reply);
    free(result);
    return ret;
}

static int
cmdStatus(virConnectPtr conn, const char *name)
{
    xmlXPathContextPtr ctxt = NULL;
    virDomainPtr dom = NULL;
    xmlDocPtr doc = NULL;
    struct gangMeta config = { 0 };
    struct gangMeta live = { 0 };
    struct gangDef def = { 0 };
    char problem[512];
    char *xml = NULL;
    int ret = EXIT_FAILURE;
    int configPresent = 0;
    int livePresent = 0;
    int persistent;
    int active;
    int state;
    unsigned int v;

    if (!(dom = lookupDomain(conn, name)))
        goto cleanup;
    if ((active = virDomainIsActive(dom)) < 0 ||
        (persistent = virDomainIsPersistent(dom)) < 0 ||
        virDomainGetState(dom, &state, NULL, 0) < 0) {
        domVirError(name, "cannot read the state");
        goto cleanup;
    }
    if (persistent &&
        (configPresent = gangMetaGet(dom, name, VIR_DOMAIN_AFFECT_CONFIG,
                                     &config)) < 0)
        goto cleanup;
    if (active &&
        (livePresent = gangMetaGet(dom, name, VIR_DOMAIN_AFFECT_LIVE, &live)) < 0)
        goto cleanup;
    /* The definition the hook checks at the next start; transient: the live one. */
    if (!(xml = virDomainGetXMLDesc(dom, persistent ? VIR_DOMAIN_XML_INACTIVE : 0))) {
        domVirError(name, "cannot read the definition");
        goto cleanup;
    }
    if (gangDefParse(xml, &doc, &ctxt, &def) < 0) {
        domError(name, "cannot parse the domain definition");
        goto cleanup;
    }

    printf("%-18s %s\n", "Name:", virDomainGetName(dom));
    printf("%-18s %s\n", "State:", stateName(state));
    if (active) {
        gangMetaPrint("Gang:", &live, livePresent);
        if (persistent &&
            (configPresent != livePresent ||
             (configPresent &&
              (strcmp(config.mode, live.mode) != 0 ||
               !config.skewNs != !live.skewNs ||
               (config.skewNs && strcmp(config.skewNs, live.skewNs) != 0)))))
            gangMetaPrint("Gang next start:", &config, configPresent);
    } else {
        gangMetaPrint("Gang:", &config, configPresent);
    }
    printf("%-18s %s\n", "Emulator:", def.emulator);
    printf("%-18s", "vCPU pinning:");
    for (v = 0; v < def.nvcpus; v++)
        printf(" %u:%s", v, def.vcpupin[v] ? def.vcpupin[v] : "-");
    putchar('\n');
    printf("%-18s %s\n", "Emulator pinning:",
           def.emulatorpin ? def.emulatorpin : "-");
    if (gangDefProblem(&def, problem, sizeof(problem)))
        printf("%-18s %s\n", "Hook check:", problem);
    else
        printf("%-18s %s\n", "Hook check:",
               "ok (pinning and emulator; the host capability is checked at start)");

    if (active && printGangStats(dom, name) < 0)
        goto cleanup;
    ret = EXIT_SUCCESS;

 cleanup:
    gangMetaFree(&config);
    gangMetaFree(&live);
    gangDefFree(&def);
    xmlXPathFreeContext(ctxt);
    xmlFreeDoc(doc);
    free(xml);
    if (dom)
        virDomainFree(dom);
    return ret;
}

static int
compareDomainNames(const void *a, const void *b)
{
    virDomainPtr da = *(virDomainPtr const *)a;
    virDomainPtr db = *(virDomainPtr const *)b;

    return strcmp(virDomainGetName(da), virDomainGetName(db));
}

static int
cmdList(virConnectPtr conn)
{
    virDomainPtr *doms = NULL;
    int ret = EXIT_FAILURE;
    int ndoms;
    int i;

    if ((ndoms = virConnectListAllDomains(conn, &doms, 0)) < 0) {
        domVirError(NULL, "cannot list the domains");
        return EXIT_FAILURE;
    }
    qsort(doms, ndoms, sizeof(*doms), compareDomainNames);

    printf(" %-24s %-10s %-8s %-11s %s\n", "Name", "State", "Mode", "Skew-ns",
           "vCPU:CPU");
    printf("--------------------------------------------------------------------------\n");
    for (i = 0; i < ndoms; i++) {
        const char *name = virDomainGetName(doms[i]);
        xmlXPathContextPtr ctxt = NULL;
        xmlDocPtr doc = NULL;
        struct gangMeta meta;
        struct gangDef def;
        unsigned int flags;
        unsigned int v;
        char *xml = NULL;
        int present;
        int state;
        int active;

        if ((active = virDomainIsActive(doms[i])) < 0 ||
            virDomainGetState(doms[i], &state, NULL, 0) < 0) {
            domVirError(name, "cannot read the state");
            goto cleanup;
        }
        /* What runs for a running domain, else the persistent definition. */
        flags = active ? VIR_DOMAIN_AFFECT_LIVE : VIR_DOMAIN_AFFECT_CONFIG;
        if ((present = gangMetaGet(doms[i], name, flags, &meta)) < 0)
            goto cleanup;
        if (!present)
            continue;
        printf(" %-24s %-10s %-8s %-11s", name, stateName(state), meta.mode,
               meta.skewNs ? meta.skewNs : "-");
        gangMetaFree(&meta);
        if (!(xml = virDomainGetXMLDesc(doms[i],
                                        active ? 0 : VIR_DOMAIN_XML_INACTIVE))) {
            putchar('\n');
            domVirError(name, "cannot read the definition");
            goto cleanup;
        }
        memset(&def, 0, sizeof(def));
        if (gangDefParse(xml, &doc, &ctxt, &def) == 0) {
            for (v = 0; v < def.nvcpus; v++)
                printf(" %u:%s", v, def.vcpupin[v] ? def.vcpupin[v] : "-");
        }
        gangDefFree(&def);
        putchar('\n');
        xmlXPathFreeContext(ctxt);
        xmlFreeDoc(doc);
        free(xml);
    }
    ret = EXIT_SUCCESS;

 cleanup:
    for (i = 0; i < ndoms; i++)
        virDomainFree(doms[i]);
    free(doms);
    return ret;
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
    struct gangOptions opts = { 0 };
    virConnectPtr conn = NULL;
    const char *command;
    const char *name = NULL;
    int ret = EXIT_FAILURE;
    int nargs;
    char *end;
    int c;

    /* glibc's getopt_long() permutes: options may follow the command. */
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":c:m:s:C:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            opts.uri = optarg;
            break;
        case 'm':
            if (strcmp(optarg, "strict") != 0 && strcmp(optarg, "relaxed") != 0) {
                usageError("--mode '%s' is neither strict nor relaxed", optarg);
                return EXIT_USAGE;
            }
            opts.mode = optarg;
            break;
        case 's':
            errno = 0;
            opts.skewNs = strtoull(optarg, &end, 10);
            if (errno || end == optarg || *end || optarg[0] == '-' ||
                opts.skewNs > GANG_SKEW_NS_MAX) {
                usageError("--skew-ns '%s' is not a number of nanoseconds from 0 to %llu",
                           optarg, GANG_SKEW_NS_MAX);
                return EXIT_USAGE;
            }
            opts.haveSkew = true;
            break;
        case 'C':
            opts.cpus = optarg;
            break;
        case 'h':
            fputs(usageText, stdout);
            return EXIT_SUCCESS;
        case ':':
            usageError("option '%s' needs an argument", argv[optind - 1]);
            return EXIT_USAGE;
        default:
            if (optopt)
                usageError("unknown option '-%c'", optopt);
            else
                usageError("unknown option '%s'", argv[optind - 1]);
            return EXIT_USAGE;
        }
    }

    nargs = argc - optind;
    if (nargs < 1) {
        usageError("no command given");
        return EXIT_USAGE;
    }
    command = argv[optind];
    if (strcmp(command, "enable") == 0) {
        if (nargs != 2) {
            usageError("enable takes one DOMAIN");
            return EXIT_USAGE;
        }
        if (opts.haveSkew && (!opts.mode || strcmp(opts.mode, "relaxed") != 0)) {
            usageError("--skew-ns needs --mode relaxed (strict mode has no skew threshold)");
            return EXIT_USAGE;
        }
    } else if (strcmp(command, "disable") == 0 || strcmp(command, "status") == 0) {
        if (nargs != 2) {
            usageError("%s takes one DOMAIN", command);
            return EXIT_USAGE;
        }
    } else if (strcmp(command, "list") == 0) {
        if (nargs != 1) {
            usageError("list takes no arguments");
            return EXIT_USAGE;
        }
    } else {
        usageError("unknown command '%s'", command);
        return EXIT_USAGE;
    }
    if (strcmp(command, "enable") != 0 && (opts.mode || opts.haveSkew || opts.cpus)) {
        usageError("--mode, --skew-ns and --cpus belong to enable");
        return EXIT_USAGE;
    }
    if (nargs == 2)
        name = argv[optind + 1];

    virSetErrorFunc(NULL, silentErrorFunc);
    if (virInitialize() < 0) {
        fprintf(stderr, "gangctl: cannot initialize libvirt\n");
        return EXIT_FAILURE;
    }
    if (!(conn = virConnectOpen(opts.uri))) {
        fprintf(stderr, "gangctl: cannot connect to %s: %s\n",
                opts.uri ? opts.uri : "libvirt's default URI",
                virGetLastErrorMessage());
        return EXIT_FAILURE;
    }

    if (strcmp(command, "enable") == 0)
        ret = cmdEnable(conn, name, &opts);
    else if (strcmp(command, "disable") == 0)
        ret = cmdDisable(conn, name);
    else if (strcmp(command, "status") == 0)
        ret = cmdStatus(conn, name);
    else
        ret = cmdList(conn);

    if (fflush(stdout) != 0) {
        fprintf(stderr, "gangctl: writing the output: %s\n", strerror(errno));
        ret = EXIT_FAILURE;
    }
    virConnectClose(conn);
    return ret;
}
