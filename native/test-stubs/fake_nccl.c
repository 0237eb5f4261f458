// A stand-in for libnccl.so.2 with NCCL 2's C ABI, for testing the C# binding where NCCL cannot be installed
// (Debian 12). One rank, host memory instead of device memory; it records what it was given so the tests can check
// the marshalling (the 128-byte ncclUniqueId passed by value), the group bracketing and the error mapping.
#include <stdlib.h>
#include <string.h>

typedef struct { char internal[128]; } ncclUniqueId;
typedef struct fake_comm { int nranks, rank, grouped, ungrouped; unsigned char id[128]; } *ncclComm_t;

static int group_depth;

int ncclGetVersion(int *version) { *version = 22005; return 0; }

int ncclGetUniqueId(ncclUniqueId *id) {
    for (int i = 0; i < 128; i++) id->internal[i] = (char)(i * 37 + 11);
    return 0;
}

int ncclCommInitRank(ncclComm_t *comm, int nranks, ncclUniqueId id, int rank) {
    if (nranks < 1 || rank < 0 || rank >= nranks) return 4;        // ncclInvalidArgument
    ncclComm_t c = calloc(1, sizeof *c);
    if (!c) return 2;                                              // ncclSystemError
    c->nranks = nranks;
    c->rank = rank;
    memcpy(c->id, id.internal, 128);
    *comm = c;
    return 0;
}

int ncclAllReduce(const void *send, void *recv, size_t count, int datatype, int op, ncclComm_t comm, void *stream) {
    (void)stream;
    if (!comm || datatype != 7 || (op != 0 && op != 4)) return 4;  // float32 sum/avg only
    if (send != recv) memcpy(recv, send, count * sizeof(float));   // the sum and the mean over one rank
    if (group_depth > 0) comm->grouped++; else comm->ungrouped++;
    return 0;
}

int ncclGroupStart(void) { group_depth++; return 0; }
int ncclGroupEnd(void) { if (group_depth == 0) return 5; group_depth--; return 0; }   // ncclInvalidUsage
int ncclCommAbort(ncclComm_t comm) { free(comm); return 0; }
int ncclCommDestroy(ncclComm_t comm) { free(comm); return 0; }
int ncclCommGetAsyncError(ncclComm_t comm, int *error) { (void)comm; *error = 0; return 0; }

const char *ncclGetErrorString(int result) {
    switch (result) {
        case 0: return "no error";
        case 1: return "unhandled cuda error (run with NCCL_DEBUG=INFO for details)";
        case 2: return "unhandled system error (run with NCCL_DEBUG=INFO for details)";
        case 3: return "internal error - please report this issue to the NCCL developers";
        case 4: return "invalid argument (run with NCCL_DEBUG=WARN for details)";
        case 5: return "invalid usage (run with NCCL_DEBUG=WARN for details)";
        case 6: return "remote process exited or there was a network error";
        case 7: return "NCCL operation in progress";
        default: return "unknown result code";
    }
}

// For the tests: what ncclCommInitRank received, and how many reductions ran inside and outside groups.
void fake_nccl_comm_info(ncclComm_t comm, unsigned char *id, int *nranks, int *rank, int *grouped, int *ungrouped) {
    memcpy(id, comm->id, 128);
    *nranks = comm->nranks; *rank = comm->rank; *grouped = comm->grouped; *ungrouped = comm->ungrouped;
}
