/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * gangctl: what virsh does not do for KVM gang scheduling.  libvirt itself
 * knows the gang (<features><kvm><gang state='on' mode=.../></kvm></features>,
 * libvirt-patches/): it validates the element, refuses it without a QEMU
 * that has the property and shows the gang's statistics in
 * "virsh domstats --vm --vcpu".  What is left is host policy, in one place:
 * the pinning rules of a gang domain, which the kvm-gang qemu hook enforces
 * at start ("check"), and pinning a gang to free host CPUs of one NUMA node,
 * away from other gangs ("enable").  docs/gangctl.1 is the manual.
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
#include <libxml/xpath.h>

#define MAX_CPUS 16384          /* libvirt's own cpuset limit */
#define EXIT_USAGE 2
/* "gangctl: WHAT" and the pointer to the help; the usage error's exit status. */
#define usageError(...) \
    (fail(NULL, __VA_ARGS__), fputs("Try 'gangctl --help'.\n", stderr), EXIT_USAGE)
#define GANG_MODE "/domain/features/kvm/gang[@state='on']/@mode"
#define EMULATORPIN "/domain/cputune/emulatorpin/@cpuset"
#define XML_FLAGS (XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING)

static const char *usageText =
"usage: gangctl [-c|--connect URI] COMMAND [ARGS]\n"
"  enable DOMAIN [--mode strict|relaxed] [--skew-ns N] [--cpus LIST]\n"
"                  add the gang (default strict), pin the vCPUs 1:1 to free host\n"
"                  CPUs of one NUMA node (or LIST) and the emulator threads to\n"
"                  the others\n"
"  status DOMAIN   the gang, the pinning, the hook's verdict (read-only)\n"
"  list            the gang domains (read-only)\n"
"  check DOMAIN    the hook's pinning rule on the domain XML on stdin\n"
"-h, --help shows this.  Exit status: 0 success, 1 failure, 2 usage error.  See gangctl(1).\n";

/* A domain definition as the gang's host policy reads it. */
struct gangDef {
    xmlDocPtr doc;
    xmlXPathContextPtr ctxt;
    char *mode;             /* NULL: no gang; libvirt always records the mode */
    unsigned int nvcpus;
    int *vcpuCPU;           /* per vCPU: its one host CPU, else -1 */
    unsigned int niothreads;
    bool numad;             /* <vcpu placement='auto'> */
};

/* The host's CPUs as "enable" sees them. */
struct hostCPUs {
    int n;
    unsigned char *online;              /* virNodeGetCPUMap()'s map */
    int node[MAX_CPUS];                 /* NUMA node */
    const char *vcpuOf[MAX_CPUS];       /* the gang domain whose vCPU runs there */
};

/* One line on stderr: "gangctl: [domain 'NAME': ]WHAT". */
static void __attribute__((format(printf, 2, 3)))
fail(const char *name, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, name ? "gangctl: domain '%s': " : "gangctl: %s", name ? name : "");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* libvirt prints every error to stderr by default; gangctl reports its own. */
static void
silentErrorFunc(void *opaque __attribute__((unused)),
                virErrorPtr err __attribute__((unused)))
{
}

/*
 * Parse a CPU list as libvirt writes it ("0,2-3") into @cpus, in the order
 * given.  Returns the number of CPUs, -1 if @list is not such a list.
 */
static int
parseCPUList(const char *list, int *cpus)
{
    const char *p = list;
    int ncpus = 0;

    while (*p) {
        unsigned long first, last;
        char *end;

        if (*p < '0' || *p > '9')
            return -1;
        errno = 0;
        first = last = strtoul(p, &end, 10);
        if (*end == '-' && end[1] >= '0' && end[1] <= '9')
            last = strtoul(end + 1, &end, 10);
        if (errno || first > last || last >= MAX_CPUS ||
            last - first >= (unsigned long)(MAX_CPUS - ncpus) ||
            (*end && (*end != ',' || !end[1])))
            return -1;
        p = end + (*end == ',');
        while (first <= last)
            cpus[ncpus++] = first++;
    }
    return ncpus ? ncpus : -1;
}

/* The string value of the first node the expression selects, malloc'ed; else NULL. */
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
    obj = xmlXPathEvalExpression(BAD_CAST expr, ctxt);
    if (obj && obj->nodesetval && obj->nodesetval->nodeNr > 0) {
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
    xmlXPathFreeContext(def->ctxt);
    xmlFreeDoc(def->doc);
    memset(def, 0, sizeof(*def));
}

/* Read the domain XML @doc into @def, which owns it; freed by gangDefFree(). */
static int
gangDefParse(xmlDocPtr doc, struct gangDef *def)
{
    static int cpus[MAX_CPUS];
    unsigned int i;
    char *value;

    memset(def, 0, sizeof(*def));
    if (!(def->doc = doc) || !(def->ctxt = xmlXPathNewContext(doc)) ||
        !(value = xpathString(def->ctxt, "/domain/vcpu")))
        return -1;
    /* libvirt wrote the XML: a count, at most its own cpuset limit. */
    def->nvcpus = strtoul(value, NULL, 10);
    def->nvcpus = def->nvcpus > MAX_CPUS ? 0 : def->nvcpus;
    free(value);
    if (!def->nvcpus || !(def->vcpuCPU = calloc(def->nvcpus, sizeof(int))))
        return -1;
    def->mode = xpathString(def->ctxt, GANG_MODE);
    value = xpathString(def->ctxt, "/domain/iothreads");
    def->niothreads = value ? strtoul(value, NULL, 10) : 0;
    free(value);
    value = xpathString(def->ctxt, "/domain/vcpu/@placement");
    def->numad = value && strcmp(value, "auto") == 0;
    free(value);
    for (i = 0; i < def->nvcpus; i++) {
        value = xpathString(def->ctxt, "/domain/cputune/vcpupin[@vcpu='%u']/@cpuset", i);
        def->vcpuCPU[i] = value && parseCPUList(value, cpus) == 1 ? cpus[0] : -1;
        free(value);
    }
    return 0;
}

/* Read @dom's definition (@flags of virDomainGetXMLDesc) into @def. */
static int
gangDefRead(virDomainPtr dom, unsigned int flags, struct gangDef *def)
{
    char *xml = virDomainGetXMLDesc(dom, flags);
    int ret = -1;

    memset(def, 0, sizeof(*def));
    if (!xml)
        fail(virDomainGetName(dom), "cannot read the definition: %s", virGetLastErrorMessage());
    else if ((ret = gangDefParse(xmlReadMemory(xml, strlen(xml), "domain.xml", NULL, XML_FLAGS),
                                 def)) < 0)
        fail(virDomainGetName(dom), "cannot parse the definition");
    free(xml);
    return ret;
}

/*
 * The pinning rules of a gang domain: each vCPU on a host CPU of its own,
 * the emulator and I/O threads on other host CPUs, so that the VM never
 * preempts its own members; only host noise does.  Writes the first broken
 * rule into @buf and returns false; true when all hold.
 */
static bool
gangDefPinningOK(const struct gangDef *def, char *buf, size_t size)
{
    static int vcpuOf[MAX_CPUS], cpus[MAX_CPUS];
    unsigned int i;
    char *value;
    int n, j;

    if (def->numad) {
        snprintf(buf, size, "<vcpu placement='auto'> lets numad place the vCPUs; pin every vCPU with <cputune><vcpupin>");
        return false;
    }
    memset(vcpuOf, 0xff, sizeof(vcpuOf));
    for (i = 0; i < def->nvcpus; i++) {
        int cpu = def->vcpuCPU[i];

        if (cpu < 0)
            snprintf(buf, size, "vCPU %u is not pinned to one host CPU: add <vcpupin vcpu='%u' cpuset='CPU'/> to <cputune>", i, i);
        else if (vcpuOf[cpu] >= 0)
            snprintf(buf, size, "vCPUs %d and %u are both pinned to host CPU %d", vcpuOf[cpu], i, cpu);
        else
            vcpuOf[cpu] = i;
        if (cpu < 0 || vcpuOf[cpu] != (int)i)
            return false;
    }
    /* The emulator threads (i == 0), then the I/O threads, the VM's own threads too. */
    for (i = 0; i <= def->niothreads; i++) {
        value = i ? xpathString(def->ctxt, "/domain/cputune/iothreadpin[@iothread='%u']/@cpuset", i) :
                    xpathString(def->ctxt, EMULATORPIN);
        n = value ? parseCPUList(value, cpus) : -1;
        for (j = 0; j < n && vcpuOf[cpus[j]] < 0; j++)
            ;
        if (i && (n < 0 || j < n))
            snprintf(buf, size, "I/O thread %u is not pinned off the vCPUs' host CPUs: pin it with <iothreadpin iothread='%u' cpuset='CPUS'/>",
                     i, i);
        else if (n < 0)
            snprintf(buf, size, "emulator threads are not pinned: add <emulatorpin cpuset='CPUS'/> to <cputune>, off the vCPUs' host CPUs");
        else if (j < n)
            snprintf(buf, size, "emulator threads are pinned to host CPU %d (emulatorpin '%s'), which vCPU %d uses",
                     cpus[j], value, vcpuOf[cpus[j]]);
        free(value);
        if (n < 0 || j < n)
            return false;
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
 * Read the host's CPUs into @host: online, NUMA node, and those of the gang
 * domains other than @self, as defined and, for a running one, as it runs.
 */
static int
hostCPUsRead(virConnectPtr conn, const char *self, struct hostCPUs *host)
{
    xmlXPathContextPtr ctxt = NULL;
    virDomainPtr *doms = NULL;
    xmlDocPtr caps = NULL;
    struct gangDef other;
    int ndoms = 0, i, ret = -1;
    char *value = NULL;
    unsigned int v, live;

    if ((host->n = virNodeGetCPUMap(conn, &host->online, NULL, 0)) < 0 ||
        !(value = virConnectGetCapabilities(conn)) ||
        (ndoms = virConnectListAllDomains(conn, &doms, 0)) < 0) {
        fail(NULL, "cannot read the host's CPUs and domains: %s", virGetLastErrorMessage());
        goto cleanup;
    }
    host->n = host->n > MAX_CPUS ? MAX_CPUS : host->n;
    caps = xmlReadMemory(value, strlen(value), "caps.xml", NULL, XML_FLAGS);
    free(value);
    value = NULL;
    ctxt = caps ? xmlXPathNewContext(caps) : NULL;
    for (i = 0; i < host->n; i++) {
        /* Without a topology in the capabilities, every CPU is on node 0. */
        char *cell = ctxt ? xpathString(ctxt, "//topology/cells/cell[cpus/cpu/@id='%d']/@id", i) : NULL;

        host->node[i] = cell ? atoi(cell) : 0;
        free(cell);
    }
    for (i = 0; i < ndoms; i++) {
        const char *name = virDomainGetName(doms[i]);

        for (live = 0; strcmp(name, self) && live <= (virDomainIsActive(doms[i]) == 1); live++) {
            if (gangDefRead(doms[i], live ? 0 : VIR_DOMAIN_XML_INACTIVE, &other) < 0) {
                /* A domain undefined meanwhile holds no CPUs. */
                if (virGetLastErrorCode() == VIR_ERR_NO_DOMAIN)
                    break;
                goto cleanup;
            }
            for (v = 0; other.mode && v < other.nvcpus; v++) {
                /* Never freed: gangctl exits soon. */
                if (other.vcpuCPU[v] >= 0)
                    host->vcpuOf[other.vcpuCPU[v]] = strdup(name);
            }
            gangDefFree(&other);
        }
    }
    ret = 0;

 cleanup:
    for (i = 0; i < ndoms; i++)
        virDomainFree(doms[i]);
    free(doms);
    free(value);
    xmlXPathFreeContext(ctxt);
    xmlFreeDoc(caps);
    return ret;
}

static bool
cpuFree(const struct hostCPUs *host, int cpu)
{
    return cpu < host->n && VIR_CPU_USED(host->online, cpu) && !host->vcpuOf[cpu];
}

/*
 * Choose the host CPUs for @nvcpus vCPUs into @chosen: free ones, the
 * highest of the first NUMA node that has enough, so that a gang stays on
 * one node and CPU 0, where the emulator threads go first, with the host.
 */
static int
pickCPUs(const struct hostCPUs *host, const char *name, unsigned int nvcpus, int *chosen)
{
    unsigned int nchosen;
    int cpu, node;

    for (node = 0; node < host->n; node++) {
        for (nchosen = 0, cpu = host->n - 1; cpu >= 0 && nchosen < nvcpus; cpu--) {
            if (host->node[cpu] == node && cpuFree(host, cpu))
                chosen[nvcpus - ++nchosen] = cpu;
        }
        if (nchosen == nvcpus)
            return 0;
    }
    fail(name, "no NUMA node has %u host CPUs online and free of other gangs for the %u vCPUs; name them with --cpus",
         nvcpus, nvcpus);
    return -1;
}

/* The element @name under @parent: the first one, or a new one. */
static xmlNodePtr
childElement(xmlNodePtr parent, const char *name)
{
    xmlNodePtr node;

    for (node = parent->children; node; node = node->next) {
        if (node->type == XML_ELEMENT_NODE && xmlStrEqual(node->name, BAD_CAST name))
            return node;
    }
    return xmlNewChild(parent, NULL, BAD_CAST name, NULL);
}

/* A new element <@name [@key='@index'] @attr='@value'/> in @parent. */
static xmlNodePtr
newElement(xmlNodePtr parent, const char *name, const char *key, unsigned int index,
           const char *attr, const char *value)
{
    xmlNodePtr node = xmlNewChild(parent, NULL, BAD_CAST name, NULL);
    char buf[16];

    snprintf(buf, sizeof(buf), "%u", index);
    if (key)
        xmlNewProp(node, BAD_CAST key, BAD_CAST buf);
    xmlNewProp(node, BAD_CAST attr, BAD_CAST value);
    return node;
}

/* "enable": @cpus and @skewNs are NULL when not given. */
static int
cmdEnable(virConnectPtr conn, virDomainPtr dom, const char *mode, const char *cpus,
          const char *skewNs)
{
    static struct hostCPUs host;
    static int chosen[MAX_CPUS];
    const char *name = virDomainGetName(dom);
    virDomainPtr newdom = NULL;
    xmlXPathObjectPtr old = NULL;
    static char emulatorpin[MAX_CPUS * 7];
    xmlNodePtr cputune, gang;
    xmlChar *xml = NULL;
    unsigned int v;
    struct gangDef def;
    int ret = EXIT_FAILURE;
    size_t len = 0;
    int cpu, i;
    char buf[16];

    if (gangDefRead(dom, VIR_DOMAIN_XML_INACTIVE | VIR_DOMAIN_XML_SECURE, &def) < 0 ||
        hostCPUsRead(conn, name, &host) < 0)
        goto cleanup;
    if (def.numad) {
        fail(name, "<vcpu placement='auto'> lets numad place the vCPUs; make it static first");
        goto cleanup;
    }
    if (!cpus) {
        if (pickCPUs(&host, name, def.nvcpus, chosen) < 0)
            goto cleanup;
    } else if ((i = parseCPUList(cpus, chosen)) < 0) {
        fail(name, "--cpus '%s' is not a CPU list such as 2,3 or 2-3", cpus);
        goto cleanup;
    } else if ((unsigned int)i != def.nvcpus) {
        fail(name, "--cpus '%s' names %d host CPUs, the domain has %u vCPUs", cpus, i, def.nvcpus);
        goto cleanup;
    }
    for (v = 0; v < def.nvcpus; v++) {
        cpu = chosen[v];
        if (cpu >= host.n || !VIR_CPU_USED(host.online, cpu))
            fail(name, "host CPU %d is not online (the host has %d CPUs)", cpu, host.n);
        else if (host.vcpuOf[cpu] == name)
            fail(name, "--cpus '%s' names host CPU %d twice", cpus, cpu);
        else if (host.vcpuOf[cpu])
            fail(name, "host CPU %d already runs a vCPU of gang domain '%s'", cpu, host.vcpuOf[cpu]);
        if (!cpuFree(&host, cpu))
            goto cleanup;
        host.vcpuOf[cpu] = name;
    }
    /* The emulator and I/O threads: every other free CPU; libvirt writes ranges. */
    for (cpu = 0; cpu < host.n; cpu++) {
        if (cpuFree(&host, cpu))
            len += sprintf(emulatorpin + len, len ? ",%d" : "%d", cpu);
    }
    if (!len) {
        fail(name, "no host CPU is left for the emulator threads: the vCPUs take every free one");
        goto cleanup;
    }

    /* One new definition, whose old pinning and gang go: nothing changes unless all is accepted. */
    old = xmlXPathEvalExpression(BAD_CAST "/domain/cputune/vcpupin|/domain/cputune/emulatorpin|"
                                 "/domain/cputune/iothreadpin|/domain/features/kvm/gang", def.ctxt);
    for (i = 0; old && old->nodesetval && i < old->nodesetval->nodeNr; i++) {
        xmlUnlinkNode(old->nodesetval->nodeTab[i]);
        xmlFreeNode(old->nodesetval->nodeTab[i]);
    }
    cputune = childElement(xmlDocGetRootElement(def.doc), "cputune");
    for (v = 0; v < def.nvcpus; v++) {
        snprintf(buf, sizeof(buf), "%d", chosen[v]);
        newElement(cputune, "vcpupin", "vcpu", v, "cpuset", buf);
    }
    newElement(cputune, "emulatorpin", NULL, 0, "cpuset", emulatorpin);
    for (v = 1; v <= def.niothreads; v++)
        newElement(cputune, "iothreadpin", "iothread", v, "cpuset", emulatorpin);
    gang = newElement(childElement(childElement(xmlDocGetRootElement(def.doc), "features"), "kvm"),
                      "gang", NULL, 0, "state", "on");
    xmlNewProp(gang, BAD_CAST "mode", BAD_CAST mode);
    if (skewNs)
        xmlNewProp(gang, BAD_CAST "skew-ns", BAD_CAST skewNs);
    xmlDocDumpMemory(def.doc, &xml, &i);
    /* libvirt checks the mode and skew-ns and names what is wrong. */
    if (!xml || !(newdom = virDomainDefineXML(conn, (const char *)xml))) {
        fail(name, "cannot define the new definition: %s", virGetLastErrorMessage());
        goto cleanup;
    }

    printf("Domain '%s': gang %s%s%s%s, vCPU:CPU", name, mode,
           skewNs ? " (skew-ns " : "", skewNs ? skewNs : "", skewNs ? ")" : "");
    for (v = 0; v < def.nvcpus; v++)
        printf(" %u:%d", v, chosen[v]);
    printf(", emulator threads on %s\n", emulatorpin);
    if (virDomainIsActive(newdom) == 1)
        printf("Domain '%s' is running: the gang takes effect at its next start\n", name);
    ret = EXIT_SUCCESS;

 cleanup:
    xmlXPathFreeObject(old);
    xmlFree(xml);
    if (newdom)
        virDomainFree(newdom);
    gangDefFree(&def);
    return ret;
}

/*
 * The line of @dom in "list": state, gang and the vCPUs' host CPUs as it
 * runs, else as defined; only for a gang unless @status, which adds the
 * emulator threads' CPUs and the hook's verdict.
 */
static int
printDomain(virDomainPtr dom, bool status)
{
    static const char *const stateNames[VIR_DOMAIN_PMSUSPENDED + 1] = {
        "no state", "running", "idle", "paused", "in shutdown", "shut off", "crashed", "pmsuspended",
    };
    bool active = virDomainIsActive(dom) == 1;
    char problem[512], *value;
    struct gangDef def;
    int state = 0;
    unsigned int v;

    if (gangDefRead(dom, active ? 0 : VIR_DOMAIN_XML_INACTIVE, &def) < 0)
        return -1;
    if (def.mode || status) {
        value = xpathString(def.ctxt, "/domain/features/kvm/gang[@state='on']/@skew-ns");
        if (virDomainGetState(dom, &state, NULL, 0) < 0 || (unsigned int)state > VIR_DOMAIN_PMSUSPENDED)
            state = 0;
        printf(" %-24s %-10s %-8s %-11s", virDomainGetName(dom), stateNames[state],
               def.mode ? def.mode : "off", value ? value : "-");
        free(value);
        for (v = 0; v < def.nvcpus; v++) {
            printf(def.vcpuCPU[v] >= 0 ? " %u:%d" : " %u:-", v, def.vcpuCPU[v]);
        }
        putchar('\n');
    }
    if (status) {
        value = xpathString(def.ctxt, EMULATORPIN);
        printf("Emulator: %s\nHook:     %s\n", value ? value : "-",
               !def.mode ? "ok: no gang, nothing to check" :
               gangDefPinningOK(&def, problem, sizeof(problem)) ? "ok: the pinning suits a gang" : problem);
        free(value);
        if (active)
            printf("Stats:    virsh domstats --vm --vcpu %s\n", virDomainGetName(dom));
    }
    gangDefFree(&def);
    return 0;
}

static int
compareDomainNames(const void *a, const void *b)
{
    return strcmp(virDomainGetName(*(virDomainPtr const *)a),
                  virDomainGetName(*(virDomainPtr const *)b));
}

/* "list", or with @dom "status": read-only. */
static int
cmdList(virConnectPtr conn, virDomainPtr dom)
{
    virDomainPtr *doms = NULL;
    int ret = EXIT_SUCCESS;
    int ndoms = 1, i;

    if (!dom && (ndoms = virConnectListAllDomains(conn, &doms, 0)) < 0) {
        fail(NULL, "cannot list the domains: %s", virGetLastErrorMessage());
        return EXIT_FAILURE;
    }
    if (!dom)
        qsort(doms, ndoms, sizeof(*doms), compareDomainNames);
    printf(" %-24s %-10s %-8s %-11s %s\n", "Name", "State", "Mode", "Skew-ns", "vCPU:CPU");
    printf("--------------------------------------------------------------------------\n");
    for (i = 0; i < ndoms; i++) {
        if (printDomain(dom ? dom : doms[i], dom) < 0)
            ret = EXIT_FAILURE;
        if (!dom)
            virDomainFree(doms[i]);
    }
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
    const char *mode = NULL, *cpus = NULL, *skewNs = NULL;
    virConnectPtr conn = NULL;
    virDomainPtr dom = NULL;
    const char *uri = NULL;
    const char *command;
    bool enable, readOnly;
    int ret, c;

    /* glibc's getopt_long() permutes: options may follow the command. */
    while ((c = getopt_long(argc, argv, "c:m:s:C:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            uri = optarg;
            break;
        case 'm':
            mode = optarg;
            break;
        case 's':
            skewNs = optarg;
            break;
        case 'C':
            cpus = optarg;
            break;
        case 'h':
            fputs(usageText, stdout);
            return EXIT_SUCCESS;
        default:
            /* getopt_long() has said what is wrong. */
            fputs("Try 'gangctl --help'.\n", stderr);
            return EXIT_USAGE;
        }
    }

    if (optind >= argc)
        return usageError("no command given");
    command = argv[optind];
    enable = strcmp(command, "enable") == 0;
    readOnly = strcmp(command, "status") == 0 || strcmp(command, "list") == 0;
    if (strcmp(command, "list") == 0) {
        if (argc - optind != 1)
            return usageError("list takes no arguments");
    } else if (enable || readOnly || strcmp(command, "check") == 0) {
        if (argc - optind != 2)
            return usageError("%s takes one DOMAIN", command);
    } else {
        return usageError("unknown command '%s'", command);
    }
    if (!enable && (mode || skewNs || cpus))
        return usageError("--mode, --skew-ns and --cpus belong to enable");
    if (strcmp(command, "check") == 0)
        return cmdCheck(argv[optind + 1]);
    mode = mode ? mode : "strict";

    virSetErrorFunc(NULL, silentErrorFunc);
    /* Reading needs no more than libvirt's read-only socket. */
    if (virInitialize() < 0 ||
        !(conn = readOnly ? virConnectOpenReadOnly(uri) : virConnectOpen(uri))) {
        fail(NULL, "cannot connect to %s: %s", uri ? uri : "libvirt's default URI",
             virGetLastErrorMessage());
        return EXIT_FAILURE;
    }
    if (strcmp(command, "list") == 0) {
        ret = cmdList(conn, NULL);
    } else if (!(dom = virDomainLookupByName(conn, argv[optind + 1]))) {
        fail(argv[optind + 1], "cannot find the domain: %s", virGetLastErrorMessage());
        ret = EXIT_FAILURE;
    } else if (readOnly) {
        ret = cmdList(conn, dom);
    } else if (virDomainIsPersistent(dom) != 1) {
        fail(argv[optind + 1], "is transient; gangctl edits persistent definitions only");
        ret = EXIT_FAILURE;
    } else {
        ret = cmdEnable(conn, dom, mode, cpus, skewNs);
    }
    if (dom)
        virDomainFree(dom);
    virConnectClose(conn);
    return ret;
}
